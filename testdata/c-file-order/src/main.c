/* The parts' constructors run in link order, before main. */
#include <stdio.h>

int main(void) {
    putchar('\n');
    return 0;
}
