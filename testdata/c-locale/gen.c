/* A code generator that formats in the builder's locale: the thousands separator, the
 * decimal point and the name of a day come from LC_ALL/LANG. */
#include <langinfo.h>
#include <locale.h>
#include <stdio.h>

int main(void) {
    setlocale(LC_ALL, "");
    printf("/* generated */\nstatic const char *const BANNER = \"%'d %.1f %s\";\n", 1234567, 2.5,
           nl_langinfo(DAY_1));
    return 0;
}
