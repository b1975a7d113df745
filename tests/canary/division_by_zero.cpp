// The sanitizer canary of `make test SAN=1`: divides an integer by zero, read at run time so the
// compiler cannot see it coming. The Makefile runs it before the suites and requires it to die
// with UBSan's "division by zero" report. It exists because a sanitizer that reports without
// stopping the run (a lost -fno-sanitize-recover, a changed UBSAN_OPTIONS, another compiler)
// would let a green SAN=1 run hide the very bugs it is there to catch; an integer division by a
// zero extent is one this project has had (RowCursor on an empty layout).
//   build-san*/san_canary 0   must die;   build-san*/san_canary 2   prints 21
#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
    int divisor = argc > 1 ? std::atoi(argv[1]) : 0;
    std::printf("%d\n", 42 / divisor);
    return 0;
}
