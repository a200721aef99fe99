/* One part of the program: announces itself when the program starts. */
#include <stdio.h>

__attribute__((constructor)) static void part_d(void) { putchar('d'); }
