// Metropolis sweeps of quadratic problems in spin form on a GPU, and replica exchange.
//
// Layout. Variables are relabelled so that each colour class of a proper colouring of the coupling
// graph is a contiguous range (colour_ptr[c] .. colour_ptr[c+1]); no two variables of one class
// are coupled, so all of them can be updated at once and the result is the sequential sweep
// v = 0, 1, ..., n-1 of the relabelled problem. Spins are stored replica-minor, s[v * replicas + r].
//
// Threads. A block sweeps `group` replicas (consecutive r: the `group` lanes that share a vertex
// read one contiguous run of s, a 32-byte sector for 8 float32 spins) with blockDim.x / group
// vertex threads per replica, which stride through each colour class, then meet at a barrier.
// The coupling arrays (CSR ptr/idx/J, h) are shared by all replicas: lanes of one vertex read the
// same entries (broadcast). A flip costs d = -2 s_v f_v with f_v = h_v + sum_u J_vu s_u read from
// the neighbours' spins ("pull": no local fields stored, nothing written but the spin itself).
//
// Random numbers. Acceptance is the CPU lane kernels' pure function of (replica seed, sweep,
// variable): the same counter-based hash, the same float32 exp2 polynomial, operation for
// operation. With float32 problems (the CPU picks float32 only where every field is exact) f and
// d are the exact values the CPU kernels hold in their incremental fields, so a replica makes the
// very moves qio/lane_kernels.py makes on the relabelled problem, bit for bit. Built with
// --fmad=false so no multiply-add is fused. REAL is float or double (-DREAL=...).

#ifndef REAL
#define REAL float
#endif

#define KQ_MAX_THREADS 1024
#define KQ_MAX_GROUP 32

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

// One Metropolis move of variable v in replica r; returns the cost change (0 when rejected).
__device__ __forceinline__ REAL kq_move(
    const long long* ptr, const int* idx, const REAL* J, const REAL* h, REAL* s, int v, int r, int replicas,
    unsigned int key, float nb)
{
    const long long at = (long long)v * replicas + r;
    const REAL sv = s[at];
    REAL f = h[v];
    for (long long k = ptr[v]; k < ptr[v + 1]; ++k) {
        f += J[k] * s[(long long)idx[k] * replicas + r];
    }
    const REAL zero = (REAL)0;
    const REAL d = -(REAL)2 * sv * f;
    if (d > zero) {
        const float x = kq_exponent(nb, d);
        if (x < -26.0f) {
            return zero;  // below the smallest draw, 2^-25: never accepted, so no draw
        }
        if (!(kq_uniform(key, (unsigned int)v) < kq_exp2(x))) {
            return zero;
        }
    }
    s[at] = -sv;
    return d;
}

// Sweeps first_sweep .. first_sweep + sweeps - 1 of every replica. Replica r runs sweep t at
// -beta*log2(e) = nbetas[t * nb_sweep_stride + r * nb_replica_stride], adds the cost change to
// energy[r] and keeps its best state (best_s, best_energy) as the CPU kernels do after each sweep.
// Launch: ceil(replicas / group) blocks of group * (vertex threads) threads, at most 1024.
extern "C" __global__ void kq_anneal(
    const long long* ptr, const int* idx, const REAL* J, const REAL* h, const int* colour_ptr, int colours,
    REAL* s, const unsigned int* seeds, double* energy, REAL* best_s, double* best_energy, const float* nbetas,
    long long nb_sweep_stride, long long nb_replica_stride, int sweeps, unsigned int first_sweep, int n,
    int replicas, int group)
{
    __shared__ double kq_gain[KQ_MAX_THREADS];
    __shared__ int kq_improved[KQ_MAX_GROUP];
    const int lane = (int)threadIdx.x % group;
    const int vt = (int)threadIdx.x / group;
    const int vthreads = (int)blockDim.x / group;
    const int r = (int)blockIdx.x * group + lane;
    const bool active = r < replicas;  // idle lanes of the last block still meet every barrier
    for (int t = 0; t < sweeps; ++t) {
        unsigned int key = 0u;
        float nb = 0.0f;
        if (active) {
            key = kq_sweep_key(seeds[r], first_sweep + (unsigned int)t);
            nb = nbetas[t * nb_sweep_stride + r * nb_replica_stride];
        }
        double gained = 0.0;
        for (int c = 0; c < colours; ++c) {
            if (active) {
                for (int v = colour_ptr[c] + vt; v < colour_ptr[c + 1]; v += vthreads) {
                    gained += (double)kq_move(ptr, idx, J, h, s, v, r, replicas, key, nb);
                }
            }
            __syncthreads();
        }
        kq_gain[threadIdx.x] = gained;
        __syncthreads();
        if (active && vt == 0) {
            double total = 0.0;
            for (int j = 0; j < vthreads; ++j) {
                total += kq_gain[j * group + lane];
            }
            energy[r] += total;
            const int improved = energy[r] < best_energy[r] - 1e-12;
            if (improved) {
                best_energy[r] = energy[r];
            }
            kq_improved[lane] = improved;
        }
        __syncthreads();
        if (active && kq_improved[lane]) {
            for (int v = vt; v < n; v += vthreads) {
                best_s[(long long)v * replicas + r] = s[(long long)v * replicas + r];
            }
        }
        __syncthreads();
    }
}

// Cost (without offset) of every replica, as ReplicaSet computes it on the CPU:
// constant + sum_v s_v (h_v + f_v) / 2 with f_v = h_v + sum_u J_vu s_u, in double. Same launch shape as
// kq_anneal; each replica's partial sums are added in a fixed order, so runs are reproducible.
extern "C" __global__ void kq_energy(
    const long long* ptr, const int* idx, const REAL* J, const REAL* h, const REAL* s, double constant,
    double* energy, int n, int replicas, int group)
{
    __shared__ double kq_part[KQ_MAX_THREADS];
    const int lane = (int)threadIdx.x % group;
    const int vt = (int)threadIdx.x / group;
    const int vthreads = (int)blockDim.x / group;
    const int r = (int)blockIdx.x * group + lane;
    const bool active = r < replicas;
    double acc = 0.0;
    if (active) {
        for (int v = vt; v < n; v += vthreads) {
            double f = (double)h[v];
            for (long long k = ptr[v]; k < ptr[v + 1]; ++k) {
                f += (double)J[k] * (double)s[(long long)idx[k] * replicas + r];
            }
            acc += (double)s[(long long)v * replicas + r] * ((double)h[v] + f);
        }
    }
    kq_part[threadIdx.x] = acc;
    __syncthreads();
    if (active && vt == 0) {
        double total = 0.0;
        for (int j = 0; j < vthreads; ++j) {
            total += kq_part[j * group + lane];
        }
        energy[r] = constant + 0.5 * total;
    }
}

// splitmix64, as qio/kernels.py rand_u64 / rand01.
__device__ __forceinline__ double kq_rand01(unsigned long long* state) {
    unsigned long long z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z = z ^ (z >> 31);
    return (double)(z >> 11) * (1.0 / 9007199254740992.0);
}

// Replica exchange after a sweep, as qio/solvers/pt.py swap_temperatures: perm[k] is the replica
// at betas[k] (coldest last); neighbouring temperatures swap with probability
// min(1, exp((beta_k - beta_k+1)(E_a - E_b))), drawn from one splitmix64 stream. Then each replica's
// temperature for the next sweep: nb_of_replica[perm[k]] = nbetas[k].
// The swaps are a chain (each depends on the one before), so one thread walks it, but on a tile of
// the chain that all threads of the block first copied to shared memory (replica, its energy, the
// temperature): the walk then waits on no global memory. A tile's last position is the next tile's
// first, so a replica swapped across the boundary walks on. Launch: one block, any thread count.
#ifndef KQ_EXCHANGE_TILE
#define KQ_EXCHANGE_TILE 1024
#endif
extern "C" __global__ void kq_exchange(
    const double* betas, const float* nbetas, long long* perm, const double* energy, unsigned long long* rng,
    float* nb_of_replica, int temperatures)
{
    __shared__ long long kq_replica[KQ_EXCHANGE_TILE + 1];
    __shared__ double kq_energy_of[KQ_EXCHANGE_TILE + 1];
    __shared__ double kq_beta[KQ_EXCHANGE_TILE + 1];
    if (blockIdx.x != 0) {
        return;
    }
    unsigned long long state = 0ull;
    if (threadIdx.x == 0) {
        state = *rng;
    }
    for (int base = 0; base < temperatures - 1; base += KQ_EXCHANGE_TILE) {
        const int left = temperatures - base;
        const int count = left < KQ_EXCHANGE_TILE + 1 ? left : KQ_EXCHANGE_TILE + 1;  // positions base .. + count - 1
        for (int i = (int)threadIdx.x; i < count; i += (int)blockDim.x) {
            const long long r = perm[base + i];
            kq_replica[i] = r;
            kq_energy_of[i] = energy[r];
            kq_beta[i] = betas[base + i];
        }
        __syncthreads();
        if (threadIdx.x == 0) {
            for (int i = 0; i < count - 1; ++i) {
                const double x = (kq_beta[i] - kq_beta[i + 1]) * (kq_energy_of[i] - kq_energy_of[i + 1]);
                if (x >= 0.0 || kq_rand01(&state) < exp(x)) {
                    const long long r = kq_replica[i];
                    const double e = kq_energy_of[i];
                    kq_replica[i] = kq_replica[i + 1];
                    kq_energy_of[i] = kq_energy_of[i + 1];
                    kq_replica[i + 1] = r;
                    kq_energy_of[i + 1] = e;
                }
            }
        }
        __syncthreads();
        for (int i = (int)threadIdx.x; i < count; i += (int)blockDim.x) {
            perm[base + i] = kq_replica[i];
        }
        __syncthreads();  // the next tile reads its first position, written here
    }
    if (threadIdx.x == 0) {
        *rng = state;
    }
    for (int k = (int)threadIdx.x; k < temperatures; k += (int)blockDim.x) {
        nb_of_replica[perm[k]] = nbetas[k];
    }
}
