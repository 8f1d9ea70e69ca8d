// OpenBLAS's CBLAS interface. pkg-config's `openblas` adds the include directory that holds it
// (on Debian: /usr/include/x86_64-linux-gnu/openblas-pthread/).
#include <cblas.h>
