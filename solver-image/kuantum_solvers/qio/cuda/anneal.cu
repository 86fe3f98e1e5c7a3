// Metropolis sweeps of quadratic problems in spin form, one CUDA thread per replica.
//
// The GPU twin of kuantum_solvers/qio/lane_kernels.py: spins s and local fields f stored
// variable-major, [n, replicas] (consecutive threads touch consecutive addresses), the same
// counter-based random draws and the same float32 exp2 polynomial, operation for operation. Built
// with --fmad=false, so a replica makes exactly the moves it makes on the CPU.
// REAL is float or double (-DREAL=...), like the CPU kernels' dtype.

#ifndef REAL
#define REAL float
#endif

__device__ __forceinline__ unsigned int kq_hash32(unsigned int x) {
    x ^= x >> 16;
    x *= 0x7FEB352Du;
    x ^= x >> 15;
    x *= 0x846CA68Bu;
    x ^= x >> 16;
    return x;
}

__device__ __forceinline__ unsigned int kq_sweep_key(unsigned int seed, unsigned int counter) {
    return kq_hash32(seed + counter * 0x9E3779B9u);
}

__device__ __forceinline__ float kq_uniform(unsigned int key, unsigned int v) {
    unsigned int bits = kq_hash32(key ^ (v * 0x85EBCA6Bu));
    return (float)(bits >> 8) * (1.0f / 16777216.0f) + (0.5f / 16777216.0f);
}

__device__ __forceinline__ float kq_exp2(float x) {
    float whole = floorf(x);
    float frac = x - whole;
    float p = 1.8775767e-3f;
    p = p * frac + 8.9893397e-3f;
    p = p * frac + 5.5826318e-2f;
    p = p * frac + 2.4015361e-1f;
    p = p * frac + 6.9315308e-1f;
    p = p * frac + 9.9999994e-1f;
    return p * __int_as_float(((int)whole + 127) << 23);
}

__device__ __forceinline__ float kq_exponent(float nb, REAL d) {
    float x = (float)(nb * d);
    return fmaxf(fminf(0.0f, x), -126.0f);
}

// Sweeps first_sweep .. first_sweep + sweeps - 1 of every replica. Replica r runs sweep t at
// -beta*log2(e) = nbetas[t * nb_sweep_stride + r * nb_replica_stride], and keeps its best state.
extern "C" __global__ void kq_anneal(
    const long long* ptr, const int* idx, const REAL* w, REAL* s, REAL* f, const unsigned int* seeds,
    double* energy, REAL* best_s, double* best_energy, const float* nbetas, long long nb_sweep_stride,
    long long nb_replica_stride, int sweeps, unsigned int first_sweep, int n, int replicas)
{
    const int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= replicas) {
        return;
    }
    const REAL zero = (REAL)0;
    const REAL two = (REAL)2;
    for (int t = 0; t < sweeps; ++t) {
        const unsigned int key = kq_sweep_key(seeds[r], first_sweep + (unsigned int)t);
        const float nb = nbetas[t * nb_sweep_stride + r * nb_replica_stride];
        REAL gained = zero;
        for (int v = 0; v < n; ++v) {
            const long long at = (long long)v * replicas + r;
            const REAL sv = s[at];
            const REAL d = -two * sv * f[at];
            if (d > zero) {
                const float x = kq_exponent(nb, d);
                if (x < -26.0f) {
                    continue;
                }
                if (!(kq_uniform(key, (unsigned int)v) < kq_exp2(x))) {
                    continue;
                }
            }
            for (long long k = ptr[v]; k < ptr[v + 1]; ++k) {
                f[(long long)idx[k] * replicas + r] += w[k] * sv;
            }
            s[at] = -sv;
            gained += d;
        }
        energy[r] += gained;
        if (energy[r] < best_energy[r] - 1e-12) {
            best_energy[r] = energy[r];
            for (int v = 0; v < n; ++v) {
                best_s[(long long)v * replicas + r] = s[(long long)v * replicas + r];
            }
        }
    }
}
