/* Leak: __DATE__/__TIME__ are the compile time; -g adds the absolute build path. */
const char *stamp_build_date(void) { return "built " __DATE__ " " __TIME__; }
