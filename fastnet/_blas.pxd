# The one door to BLAS: every matrix product in fastnet goes through here.
#
# fastnet stores matrices row-major (C order); BLAS is column-major. A row-major
# matrix read column-major is its transpose, so C = op(A) op(B) in row-major is
# computed as C^T = op(B)^T op(A)^T in column-major, i.e. with the operands swapped.
from cython cimport floating

# C (m, n) = alpha * op(A) (m, k) @ op(B) (k, n) + beta * C, all row-major.
# op(A) = A^T when trans_a (A stored (k, m)), else A (stored (m, k)); same for B.
cdef void gemm(bint trans_a, bint trans_b, int m, int n, int k,
               floating alpha, const floating* a, int lda,
               const floating* b, int ldb,
               floating beta, floating* c, int ldc) noexcept nogil
