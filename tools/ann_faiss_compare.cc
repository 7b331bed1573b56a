// FAISS's inverted-file indexes on the factors that bench_core's ann bench
// draws, measured the way that bench measures streamrec's own index
// (src/core/ann.c), so that the two can be set side by side as ratios to
// exact scoring. A measurement tool only: not built by CMake, not tested.
//
// Build and run by hand (Debian's libfaiss-dev 1.7.3 ships a static
// library only, hence -fopenmp and the BLAS/LAPACK libraries):
//
//   g++ -O2 -std=c++17 -fopenmp -o build/ann_faiss_compare \
//       tools/ann_faiss_compare.cc -lfaiss -lopenblas -llapack
//   OPENBLAS_NUM_THREADS=1 build/ann_faiss_compare 100000 4 8 16
//   OPENBLAS_NUM_THREADS=1 build/ann_faiss_compare 1000000 4 8 16
//   OPENBLAS_NUM_THREADS=1 build/ann_faiss_compare --plain 1000000 4 8 16
//
// and in the same run, for streamrec's figures:
//
//   build/bench_core ann 100000 clustered 8 16
//   build/bench_core ann 1000000 clustered 4 8
//
// What it reproduces of bench_core (tools/bench_core.c, ann_model and
// bench_ann): k=64 factors clustered around 1000 centres (centre in
// [-1, 1) plus half that as noise, drawn by the same xoshiro256** with
// seed 5 in the same order), an additive score per item in [-1, 1)
// (streamrec's popularity blend), 4096 users at 100 k items and 1024 at
// 1 M, and user u having seen the items i with i % users == u (so about
// 24 and 977 seen items each), which its lists exclude. The score
// indexed is u.v + bias, as streamrec indexes it: each item vector gets
// the bias as a 65th column and each user vector a 1 there. FAISS is
// asked for 20 + seen candidates (streamrec asks for 2*20 + seen); they
// are re-scored exactly from the float vectors (as streamrec re-scores its
// shortlist; it changes the SQ8 order only), the seen ones dropped, and
// the best 20 kept. Exact lists come from brute force with cblas_sgemm
// over all items; recall@20 is the share of the exact list found.
//
// What it does not reproduce: streamrec's co-occurrence candidates and
// popular head (not in FAISS's lists, so recall here is of the index
// alone), and streamrec's model bookkeeping around a list.
//
// Rates are users per CPU second of this thread, single-threaded
// (omp_set_num_threads(1), one BLAS thread), batches of 64 users, best of
// 3 alternating runs, as bench_core's are.
#include <faiss/IndexFlat.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/IndexScalarQuantizer.h>

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

extern "C" void openblas_set_num_threads(int);

namespace {

const int K = 64, D = K + 1, N = 20, BATCH = 64, ROUNDS = 3;

// --plain: no seen items, so that FAISS is asked for 20 candidates only
// (what the cost of asking for 20 + seen is).
bool g_plain = false;

// streamrec's core/rng: splitmix64 seeding, xoshiro256**.
struct Rng {
  uint64_t s[4];
  explicit Rng(uint64_t seed) {
    for (int i = 0; i < 4; i++) {
      uint64_t z = (seed += 0x9e3779b97f4a7c15ull);
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      s[i] = z ^ (z >> 31);
    }
  }
  uint64_t next() {
    uint64_t x = s[1] * 5, result = ((x << 7) | (x >> 57)) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = (s[3] << 45) | (s[3] >> 19);
    return result;
  }
  uint32_t below(uint32_t n) {
    return (uint32_t)(((next() >> 32) * (uint64_t)n) >> 32);
  }
  float sym() {
    return (float)((int64_t)(next() >> 40) - (1 << 23)) / (float)(1 << 23);
  }
};

struct Data {
  uint32_t items, users;
  std::vector<float> iv, uv;  // items x D (bias last), users x D (1 last)
};

Data make_data(uint32_t items, uint32_t users) {
  const uint32_t CENTRES = 1000;
  Data d{items, users, std::vector<float>((size_t)items * D),
         std::vector<float>((size_t)users * D)};
  Rng rng(5);
  std::vector<float> c((size_t)CENTRES * K);
  for (float &x : c) x = rng.sym();
  for (int f = 0; f < 2; f++) {
    std::vector<float> &m = f == 0 ? d.iv : d.uv;
    uint32_t rows = f == 0 ? items : users;
    for (uint32_t r = 0; r < rows; r++) {
      const float *cc = c.data() + (size_t)rng.below(CENTRES) * K;
      for (int k = 0; k < K; k++) m[(size_t)r * D + k] = cc[k] + 0.5f * rng.sym();
    }
  }
  for (uint32_t r = 0; r < items; r++) d.iv[(size_t)r * D + K] = rng.sym();
  for (uint32_t u = 0; u < users; u++) d.uv[(size_t)u * D + K] = 1.0f;
  return d;
}

double cpu_secs() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

double wall_secs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

bool seen(const Data &d, uint32_t user, int64_t item) {
  return !g_plain && item % d.users == user;
}

float dot(const float *a, const float *b) {
  float s = 0;
  for (int k = 0; k < D; k++) s += a[k] * b[k];
  return s;
}

// Best N unseen of a user's candidates, by exact score, into out.
void keep_best(const Data &d, uint32_t user, const int64_t *cand, size_t n,
               int64_t *out) {
  std::vector<std::pair<float, int64_t>> s;
  s.reserve(n);
  const float *u = d.uv.data() + (size_t)user * D;
  for (size_t j = 0; j < n; j++)
    if (cand[j] >= 0 && !seen(d, user, cand[j]))
      s.push_back({-dot(u, d.iv.data() + (size_t)cand[j] * D), cand[j]});
  size_t m = std::min(s.size(), (size_t)N);
  std::partial_sort(s.begin(), s.begin() + m, s.end());
  for (size_t j = 0; j < (size_t)N; j++) out[j] = j < m ? s[j].second : -1;
}

// Exact lists by one sgemm per batch against all items, in slices so
// that the score block stays small; the seen items get -inf.
double exact_lists(const Data &d, int64_t *out) {
  const uint32_t SLICE = 16384;
  std::vector<float> sc((size_t)BATCH * SLICE);
  std::vector<std::vector<std::pair<float, int64_t>>> heap(BATCH);
  double start = cpu_secs();
  for (uint32_t u0 = 0; u0 < d.users; u0 += BATCH) {
    for (auto &h : heap) h.clear();
    for (uint32_t lo = 0; lo < d.items; lo += SLICE) {
      uint32_t n = std::min(SLICE, d.items - lo);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, BATCH, n, D, 1.0f,
                  d.uv.data() + (size_t)u0 * D, D, d.iv.data() + (size_t)lo * D,
                  D, 0.0f, sc.data(), n);
      for (uint32_t b = 0; b < BATCH; b++) {
        auto &h = heap[b];  // min-heap of the best N so far
        const float *row = sc.data() + (size_t)b * n;
        for (uint32_t i = 0; i < n; i++) {
          if (seen(d, u0 + b, lo + i)) continue;
          if (h.size() < (size_t)N) {
            h.push_back({-row[i], lo + i});
            std::push_heap(h.begin(), h.end());
          } else if (-row[i] < h.front().first) {
            std::pop_heap(h.begin(), h.end());
            h.back() = {-row[i], lo + i};
            std::push_heap(h.begin(), h.end());
          }
        }
      }
    }
    for (uint32_t b = 0; b < BATCH; b++) {
      std::sort_heap(heap[b].begin(), heap[b].end());
      for (int j = 0; j < N; j++)
        out[(size_t)(u0 + b) * N + j] = heap[b][j].second;
    }
  }
  return d.users / (cpu_secs() - start);
}

double index_lists(const Data &d, faiss::IndexIVF *ix, size_t nprobe,
                   int64_t *out) {
  size_t want = g_plain ? N : N + (d.items + d.users - 1) / d.users;
  std::vector<float> dist(BATCH * want);
  std::vector<int64_t> lab(BATCH * want);
  ix->nprobe = nprobe;
  double start = cpu_secs();
  for (uint32_t u0 = 0; u0 < d.users; u0 += BATCH) {
    ix->search(BATCH, d.uv.data() + (size_t)u0 * D, want, dist.data(),
               lab.data());
    for (uint32_t b = 0; b < BATCH; b++)
      keep_best(d, u0 + b, lab.data() + b * want, want,
                out + (size_t)(u0 + b) * N);
  }
  return d.users / (cpu_secs() - start);
}

double recall(const Data &d, const int64_t *exact, const int64_t *approx) {
  size_t hit = 0;
  for (size_t u = 0; u < d.users; u++)
    for (int i = 0; i < N; i++)
      for (int j = 0; j < N; j++)
        hit += exact[u * N + i] == approx[u * N + j];
  return (double)hit / ((double)d.users * N);
}

void bench(const Data &d, const char *name, faiss::IndexIVF *ix,
           const std::vector<int> &probes, const int64_t *exact) {
  double t0 = wall_secs(), c0 = cpu_secs();
  ix->train(d.items, d.iv.data());
  ix->add(d.items, d.iv.data());
  double build = wall_secs() - t0, build_cpu = cpu_secs() - c0;
  printf("%-10s build %.2f s wall, %.2f s cpu (%zu lists, %d k-means iters)\n",
         name, build, build_cpu, ix->nlist, ix->cp.niter);
  std::vector<int64_t> approx((size_t)d.users * N);
  for (int p : probes) {
    double best = 0, best_exact = 0;
    for (int r = 0; r < ROUNDS; r++) {
      std::vector<int64_t> scratch((size_t)d.users * N);
      best_exact = std::max(best_exact, exact_lists(d, scratch.data()));
      best = std::max(best, index_lists(d, ix, p, approx.data()));
    }
    printf("%-10s items %u probe %2d build_s %.2f users_per_s %.0f exact %.0f "
           "ratio %.2f recall@20 %.3f\n",
           name, d.items, p, build, best, best_exact, best / best_exact,
           recall(d, exact, approx.data()));
    fflush(stdout);
  }
}

}  // namespace

int main(int argc, char **argv) {
  if (argc > 1 && std::string(argv[1]) == "--plain") {
    g_plain = true;
    argc--;
    argv++;
  }
  if (argc < 3) {
    fprintf(stderr, "usage: ann_faiss_compare [--plain] ITEMS PROBE...\n");
    return 2;
  }
  omp_set_num_threads(1);
  openblas_set_num_threads(1);
  uint32_t items = (uint32_t)atol(argv[1]);
  uint32_t users = items >= 1000000 ? 1024 : 4096;
  std::vector<int> probes;
  for (int a = 2; a < argc; a++) probes.push_back(atoi(argv[a]));
  Data d = make_data(items, users);
  size_t nlist = std::min<size_t>(1024, (size_t)(2 * std::sqrt((double)items)));
  std::vector<int64_t> exact((size_t)users * N);
  double rate = exact_lists(d, exact.data());
  printf("exact      items %u users %u users_per_s %.0f (sgemm, first run%s)\n",
         items, users, rate, g_plain ? ", plain top-20, no seen items" : "");
  {
    faiss::IndexFlatIP q(D);
    faiss::IndexIVFFlat ix(&q, D, nlist, faiss::METRIC_INNER_PRODUCT);
    bench(d, "ivfflat", &ix, probes, exact.data());
  }
  {
    faiss::IndexFlatIP q(D);
    faiss::IndexIVFScalarQuantizer ix(&q, D, nlist,
                                      faiss::ScalarQuantizer::QT_8bit,
                                      faiss::METRIC_INNER_PRODUCT);
    bench(d, "ivfsq8", &ix, probes, exact.data());
  }
  return 0;
}
