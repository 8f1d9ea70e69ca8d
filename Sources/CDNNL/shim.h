// oneDNN's C API (Debian's libdnnl-dev 2.6, built with the OpenMP runtime), and the OpenMP call
// that reads the number of threads its products use (libgomp; omp.h is not on the system include
// path of clang).
#include <oneapi/dnnl/dnnl.h>

int omp_get_max_threads(void);
