/* A code generator that orders its table by the address of each entry's handler: the
 * order (and the addresses it prints) follow the load address of the program, which
 * address-space layout randomization changes on every run. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static int alpha(void) { return 1; }
static int beta(void) { return 2; }
static int gamma_(void) { return 3; }

struct entry {
    const char *name;
    int (*fn)(void);
};

static uintptr_t key(const struct entry *e) {
    /* A pointer hash, as a hash table keyed by pointers computes it. */
    uintptr_t x = (uintptr_t)e->fn;
    x ^= x >> 17;
    x *= 0x9e3779b97f4a7c15u;
    return x ^ (x >> 29);
}

static int by_key(const void *a, const void *b) {
    uintptr_t ka = key(a), kb = key(b);
    return (ka > kb) - (ka < kb);
}

int main(void) {
    struct entry t[] = {{"alpha", alpha}, {"beta", beta}, {"gamma", gamma_}};
    qsort(t, 3, sizeof t[0], by_key);
    printf("/* generated */\nstatic const char *const ORDER = \"");
    for (int i = 0; i < 3; i++) {
        printf("%s%s@%p", i ? " " : "", t[i].name, (void *)t[i].fn);
    }
    printf("\";\n");
    return 0;
}
