#include <stdio.h>

#include "order.h"

int main(void) {
    printf("%s\n", ORDER);
    return 0;
}
