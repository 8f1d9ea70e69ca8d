// oneDNN's C API (Debian's libdnnl-dev 2.6, built with the OpenMP runtime), and the two OpenMP
// calls that set and read the number of threads its products use (libgomp; omp.h is not on the
// system include path of clang).
#include <oneapi/dnnl/dnnl.h>

void omp_set_num_threads(int);
int omp_get_max_threads(void);
