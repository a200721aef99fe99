/* Prints when it was built: __DATE__ and __TIME__ are expanded at compile time. */
#include <stdio.h>

int main(void) {
    printf("built on %s at %s\n", __DATE__, __TIME__);
    return 0;
}
