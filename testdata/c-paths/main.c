/* assert() expands __FILE__, and -g records the compilation directory: both leak the build path. */
#include <assert.h>
#include <stdio.h>

int main(int argc, char **argv) {
    (void)argv;
    assert(argc > 0);
    printf("source: %s\n", __FILE__);
    return 0;
}
