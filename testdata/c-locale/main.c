#include <stdio.h>

#include "banner.h"

int main(void) {
    printf("%s\n", BANNER);
    return 0;
}
