// Winograd F(2×2, 3×3) for 3×3 stride-1 convolutions (Lavin & Gray, 2016): a 2×2 output tile is
// Aᵀ[(G w Gᵀ) ⊙ (Bᵀ d B)]A over its 4×4 input patch d, so the convolution becomes 16 GEMMs of the
// transformed weights U [O, C] with the transformed patches V [C, tiles] (16 multiplications per
// 4 outputs where the direct sum takes 36). The backward passes are the same transforms' adjoints:
// the input gradient B[Uᵀ (A g Aᵀ)]Bᵀ folded back onto the overlapping patches, the weight
// gradient Gᵀ[Σ_tiles (A g Aᵀ) Vᵀ]G. The input planes come through ConvPlanes (conv_winograd.hpp):
// x itself, or a stride-2 input's phases (conv_phases.cpp).
#include "tensor/conv_winograd.hpp"

#include <algorithm>
#include <cstring>
#include <vector>

#include "tensor/blas.hpp"
#include "tensor/parallel.hpp"

namespace pathgrad::kernel {
namespace {

constexpr int64_t kTaps = 16;  // ξ = 4·k + l: entry (k, l) of a tile's transformed 4×4 patch
// Columns (tiles) per block of samples, at least (whole samples: 1 at 16×16 outputs, 4 at 8×8):
// wide enough for the block's 16 GEMMs to amortise OpenBLAS's packing of U[ξ], narrow enough for
// its two tap-major buffers to stay in a core's L2. Of 32, 64, 128 and 256, 64 was fastest on the
// width-16 CNN's layers (bench_conv's totals; docs/benchmarks.md, change 4); after the vectorised
// transforms (change 5) 32, 64 and 128 were within 4 % of each other.
constexpr int64_t kMinBlockTiles = 64;

// A block's tap-major buffer [16, rows, J] keeps its taps one cache line further apart than
// rows·J: the transforms write (or read) all 16 taps of a tile at once, and taps a power of two
// apart would share the few ways of one cache set.
int64_t tap_stride(int64_t rows, int64_t J) { return rows * J + 16; }

// Four neighbouring tiles' entries as one vector (GCC's vector extension: an SSE2 register for
// float, two for double), loaded and stored unaligned. (-Wpsabi warns that a double vector would
// be passed differently with AVX: these functions have internal linkage, no call crosses builds.)
#pragma GCC diagnostic ignored "-Wpsabi"
template <class T>
struct Lanes;
template <>
struct Lanes<float> {
  typedef float type __attribute__((vector_size(16)));
};
template <>
struct Lanes<double> {
  typedef double type __attribute__((vector_size(32)));
};
template <class T>
using Quad = typename Lanes<T>::type;

template <class T>
Quad<T> load4(const T* p) {
  Quad<T> v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <class T>
void store4(T* p, Quad<T> v) {
  std::memcpy(p, &v, sizeof v);
}
// The even and the odd entries of the eight a, b.
template <class V>
V evens(V a, V b) {
  return __builtin_shufflevector(a, b, 0, 2, 4, 6);
}
template <class V>
V odds(V a, V b) {
  return __builtin_shufflevector(a, b, 1, 3, 5, 7);
}
// Stores e and o interleaved (e0 o0 e1 o1 …) at p [8].
template <class T, class V>
void store_interleaved(T* p, V e, V o) {
  store4(p, V(__builtin_shufflevector(e, o, 0, 4, 1, 5)));
  store4(p + 4, V(__builtin_shufflevector(e, o, 2, 6, 3, 7)));
}

// Copies n entries (a row of a plane) without a library call per row.
template <class T>
void copy_row(const T* src, int64_t n, T* dst) {
  int64_t c = 0;
  for (; c + 4 <= n; c += 4) store4(dst + c, load4(src + c));
  for (; c < n; ++c) dst[c] = src[c];
}

// A convolution's sizes: planes x' [N, C, H, W], w [O, C·9], padding `pad`; outputs OH×OW in TH×TW tiles
// of 2×2 (T per sample), TW rounded up to a multiple of 4 so that the transforms take four tiles
// of a row at a time (the tiles beyond the outputs read zeros, and their outputs are dropped); a
// sample's planes padded to [HP, WP] = [2·TH + 2, 2·TW + 2] hold every tile's 4×4 patch, tile
// (ti, tj) at rows 2·ti.., columns 2·tj...
struct Sizes {
  int64_t N, C, H, W, O, pad, OH, OW, TH, TW, T, HP, WP;
  Sizes(const ConvPlanes& x, int64_t O)
      : N(x.x_shape[0]),
        C(x.channels),
        H(x.height),
        W(x.width),
        O(O),
        pad(x.pad),
        OH(H + 2 * pad - 2),
        OW(W + 2 * pad - 2),
        TH((OH + 1) / 2),
        TW((OW + 7) / 8 * 4),
        T(TH * TW),
        HP(2 * TH + 2),
        WP(2 * TW + 2) {}
  // Whether the tiles cover the output planes exactly: then a plane [OH, OW] is laid out like
  // the tiles' rows [2·TH, 2·TW], and the transforms read and write it in place.
  bool tiles_cover() const { return OH == 2 * TH && OW == 2 * TW; }
  int64_t per_block() const { return std::clamp<int64_t>((kMinBlockTiles + T - 1) / T, 1, std::max<int64_t>(N, 1)); }
  int64_t blocks() const { return (N + per_block() - 1) / per_block(); }
};

// A block's transformed operands, tap-major: entry (ξ, row, j) of a [16, rows, J] buffer at
// (ξ·rows + row)·J + j, where column j = sample-in-block·T + ti·TW + tj.
template <class T>
struct TapView {
  T* base;  // entry (0, row, first column of the sample)
  int64_t tap_stride;
  T* at(int64_t xi, int64_t j) const { return base + xi * tap_stride + j; }
};

// U [16, O, C] from w [O, C·9]: G w Gᵀ per (o, c), with G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1].
template <class T>
void transform_weights(const T* w, int64_t O, int64_t C, T* U) {
  const auto g = [](T a, T b, T c, T* out) {
    out[0] = a, out[1] = (a + b + c) * T(0.5), out[2] = (a - b + c) * T(0.5), out[3] = c;
  };
  for (int64_t oc = 0; oc < O * C; ++oc) {
    const T* k = w + oc * 9;
    T cols[3][4], u[4][4];  // cols[b] = G · column b of the 3×3 kernel; u = (G w) Gᵀ
    for (int b = 0; b < 3; ++b) g(k[b], k[3 + b], k[6 + b], cols[b]);
    for (int r = 0; r < 4; ++r) g(cols[0][r], cols[1][r], cols[2][r], u[r]);
    for (int xi = 0; xi < kTaps; ++xi) U[xi * O * C + oc] = u[xi / 4][xi % 4];
  }
}

// w's gradient [O, C·9] from dU [16, O, C]: Gᵀ dU G per (o, c) (the adjoint of transform_weights).
template <class T>
void weights_adjoint(const T* dU, int64_t O, int64_t C, T* dw) {
  const auto gt = [](T u0, T u1, T u2, T u3, T* out) {
    out[0] = u0 + (u1 + u2) * T(0.5), out[1] = (u1 - u2) * T(0.5), out[2] = (u1 + u2) * T(0.5) + u3;
  };
  for (int64_t oc = 0; oc < O * C; ++oc) {
    T rows[4][3], k[3][3];  // rows[r] = row r of dU times G; k = Gᵀ rows
    for (int r = 0; r < 4; ++r) {
      const T* u = dU + r * 4 * O * C + oc;
      gt(u[0], u[O * C], u[2 * O * C], u[3 * O * C], rows[r]);
    }
    for (int b = 0; b < 3; ++b) {
      T col[3];
      gt(rows[0][b], rows[1][b], rows[2][b], rows[3][b], col);
      for (int a = 0; a < 3; ++a) k[a][b] = col[a];
    }
    std::copy_n(&k[0][0], 9, dw + oc * 9);
  }
}

// Copies plane [h, w] into the rows of `dst` [h, ld] (the rest of dst left as it is).
template <class T>
void place(const T* plane, int64_t h, int64_t w, T* dst, int64_t ld) {
  for (int64_t r = 0; r < h; ++r) copy_row(plane + r * w, w, dst + r * ld);
}

// Copies [h, w] out of the rows of `src` [h, ld].
template <class T>
void take(const T* src, int64_t ld, int64_t h, int64_t w, T* plane) {
  for (int64_t r = 0; r < h; ++r) copy_row(src + r * ld, w, plane + r * w);
}

// The transforms are separable, Bᵀ d B = Bᵀ (d B), with Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1]:
// each row of a padded plane is multiplied by B once (it is shared by two tile rows), then the
// tile rows' four products are combined down the columns, four tiles per vector.

// Padded row `line` [WP] times B, per tile: h [4, TW], entry (l, tj) = Σ line[2·tj + a] B[a, l].
template <class T>
void row_times_b(const T* line, int64_t TW, T* h) {
  for (int64_t j = 0; j < TW; j += 4) {
    const T* p = line + 2 * j;  // d[2tj], d[2tj + 1] (e, o) and d[2tj + 2], d[2tj + 3] (e1, o1)
    const Quad<T> a = load4(p), b = load4(p + 4), c = load4(p + 2), d = load4(p + 6);
    const Quad<T> e = evens(a, b), o = odds(a, b), e1 = evens(c, d), o1 = odds(c, d);
    store4(h + j, e - e1), store4(h + TW + j, o + e1), store4(h + 2 * TW + j, e1 - o), store4(h + 3 * TW + j, o - o1);
  }
}

// The adjoint of row_times_b: line [WP] = dh [4, TW] times Bᵀ, patches added where they overlap.
template <class T>
void row_times_bt(const T* dh, int64_t TW, T* line) {
  Quad<T> q_prev{}, s_prev{};  // the previous four tiles' shares of the next tile's columns
  for (int64_t j = 0; j < TW; j += 4) {
    const Quad<T> h0 = load4(dh + j), h1 = load4(dh + TW + j), h2 = load4(dh + 2 * TW + j), h3 = load4(dh + 3 * TW + j);
    // tile tj's share of column 2tj: h0, of 2tj + 1: r; of its right neighbours 2tj + 2: q, 2tj + 3: s
    const Quad<T> q = h1 + h2 - h0, r = h1 - h2 + h3, s = -h3;
    const Quad<T> e = h0 + __builtin_shufflevector(q_prev, q, 3, 4, 5, 6);
    const Quad<T> o = r + __builtin_shufflevector(s_prev, s, 3, 4, 5, 6);
    store_interleaved(line + 2 * j, e, o);
    q_prev = q, s_prev = s;
  }
  line[2 * TW] = q_prev[3], line[2 * TW + 1] = s_prev[3];
}

// A padded plane [HP, WP] -> its tiles' Bᵀ d B (the plane is copied in whole before it is read
// back, so that no load waits on the copy's overlapping stores). h [HP, 4, TW]: the padded rows
// times B (the padding's rows stay zero).
template <class T>
void transform_patches(const T* padded, const Sizes& z, TapView<T> v, T* h) {
  const int64_t TW = z.TW, hrow = 4 * TW;
  for (int64_t r = z.pad; r < z.pad + z.H; ++r) row_times_b(padded + r * z.WP, TW, h + r * hrow);
  for (int64_t ti = 0; ti < z.TH; ++ti)
    for (int64_t l = 0; l < 4; ++l)
      for (int64_t j = 0; j < TW; j += 4) {
        const T* p = h + 2 * ti * hrow + l * TW + j;
        const Quad<T> a = load4(p), b = load4(p + hrow), c = load4(p + 2 * hrow), d = load4(p + 3 * hrow);
        const int64_t col = ti * TW + j;
        store4(v.at(l, col), a - c), store4(v.at(4 + l, col), b + c), store4(v.at(8 + l, col), c - b),
            store4(v.at(12 + l, col), b - d);
      }
}

// The adjoint of transform_patches: B dV Bᵀ of every tile added onto its patch (neighbouring
// patches overlap by two rows or columns), into the rows of padded [HP, WP] that hold the plane
// (to be copied out whole). dh [HP, 4, TW]: the padded rows' gradients times B, each row written
// first by one tile row, then added to by the next.
template <class T>
void fold_patches(TapView<const T> dv, const Sizes& z, T* padded, T* dh) {
  const int64_t TW = z.TW, hrow = 4 * TW;
  for (int64_t ti = 0; ti < z.TH; ++ti)
    for (int64_t l = 0; l < 4; ++l)
      for (int64_t j = 0; j < TW; j += 4) {
        const int64_t col = ti * TW + j;
        const Quad<T> v0 = load4(dv.at(l, col)), v1 = load4(dv.at(4 + l, col)), v2 = load4(dv.at(8 + l, col)),
                      v3 = load4(dv.at(12 + l, col));
        T* p = dh + 2 * ti * hrow + l * TW + j;  // rows 2ti .. 2ti + 3
        const Quad<T> da = v0, db = v1 - v2 + v3;
        store4(p, ti == 0 ? da : load4(p) + da), store4(p + hrow, ti == 0 ? db : load4(p + hrow) + db);
        store4(p + 2 * hrow, v1 + v2 - v0), store4(p + 3 * hrow, -v3);
      }
  for (int64_t r = z.pad; r < z.pad + z.H; ++r) row_times_bt(dh + r * hrow, TW, padded + r * z.WP);
}

// The tiles' Aᵀ M A, with Aᵀ = [1 1 1 0; 0 1 −1 −1], into rows [2·TH, 2·TW] (the outputs, and
// beyond OH or OW the partial tiles' outputs that no one reads).
template <class T>
void transform_outputs(TapView<const T> m, const Sizes& z, T* rows) {
  const int64_t TW = z.TW, RW = 2 * TW;
  for (int64_t ti = 0; ti < z.TH; ++ti)
    for (int64_t j = 0; j < TW; j += 4) {
      Quad<T> u[2][4];  // Aᵀ M: row a, column l
      for (int64_t l = 0; l < 4; ++l) {
        const int64_t col = ti * TW + j;
        const Quad<T> a = load4(m.at(l, col)), b = load4(m.at(4 + l, col)), c = load4(m.at(8 + l, col)),
                      d = load4(m.at(12 + l, col));
        u[0][l] = a + b + c, u[1][l] = b - c - d;
      }
      for (int64_t a = 0; a < 2; ++a)
        store_interleaved(rows + (2 * ti + a) * RW + 2 * j, u[a][0] + u[a][1] + u[a][2], u[a][1] - u[a][2] - u[a][3]);
    }
}

// The adjoint of transform_outputs: A g Aᵀ of every 2×2 tile of `rows` [2·TH, 2·TW] (zero beyond
// OH and OW).
template <class T>
void transform_gradients(const T* rows, const Sizes& z, TapView<T> m) {
  const int64_t TW = z.TW, RW = 2 * TW;
  for (int64_t ti = 0; ti < z.TH; ++ti)
    for (int64_t j = 0; j < TW; j += 4) {
      const T *g0 = rows + 2 * ti * RW + 2 * j, *g1 = g0 + RW;
      const Quad<T> a = load4(g0), b = load4(g0 + 4), c = load4(g1), d = load4(g1 + 4);
      const Quad<T> e0 = evens(a, b), o0 = odds(a, b), e1 = evens(c, d), o1 = odds(c, d);
      const Quad<T> e[4] = {e0, e0 + e1, e0 - e1, -e1}, o[4] = {o0, o0 + o1, o0 - o1, -o1};  // A g
      const int64_t col = ti * TW + j;
      for (int64_t k = 0; k < 4; ++k)
        store4(m.at(4 * k, col), e[k]), store4(m.at(4 * k + 1, col), e[k] + o[k]),
            store4(m.at(4 * k + 2, col), e[k] - o[k]), store4(m.at(4 * k + 3, col), -o[k]);
    }
}

// A thread's buffers: a block's two tap-major operands (from the storage cache: every entry a
// product reads is written first), a padded plane, its rows times B (or their gradients), and
// the output rows of partial tiles (zero-filled once: the entries beyond the outputs are never
// written).
template <class T>
struct Scratch {
  Tensor operands;
  T *a, *b;
  std::vector<T> padded, h, rows;
  Scratch(const Sizes& z, int64_t J, int64_t rows_a, int64_t rows_b)
      : operands(Tensor::empty({kTaps * (tap_stride(rows_a, J) + tap_stride(rows_b, J))}, dtype_of<T>())),
        a(operands.data<T>()),
        b(a + kTaps * tap_stride(rows_a, J)),
        padded(static_cast<size_t>(z.HP * z.WP)),
        h(static_cast<size_t>(z.HP * 4 * z.TW)),
        rows(static_cast<size_t>(4 * z.TH * z.TW)) {}
};

// A block of samples [s0, s0 + n): its columns j = (sample − s0)·T + tile, J of them at most.
struct Block {
  int64_t s0, n, J;
};

// V [16, C, J] of the block's samples' planes of x.
template <class T>
void transform_inputs(const T* x, const ConvPlanes& planes, const Sizes& z, const Block& b, Scratch<T>& s, T* V) {
  std::fill(s.padded.begin(), s.padded.end(), T(0));  // the padding (fold_patches writes it)
  std::fill(s.h.begin(), s.h.end(), T(0));
  T* interior = s.padded.data() + z.pad * z.WP + z.pad;
  for (int64_t q = 0; q < b.n * z.C; ++q) {
    const int64_t i = q / z.C, c = q % z.C;
    if (planes.phase_pad >= 0)
      planes.read_phase(x, b.s0 + i, c, interior, z.WP);
    else
      place(x + ((b.s0 + i) * z.C + c) * z.H * z.W, z.H, z.W, interior, z.WP);
    transform_patches(s.padded.data(), z, TapView<T>{V + c * b.J + i * z.T, tap_stride(z.C, b.J)}, s.h.data());
  }
}

// The block's output planes of y [N, O, OH·OW] from M [16, O, J].
template <class T>
void write_outputs(const T* M, const Sizes& z, const Block& b, Scratch<T>& s, T* y) {
  for (int64_t q = 0; q < b.n * z.O; ++q) {
    const int64_t i = q / z.O, o = q % z.O;
    T* plane = y + ((b.s0 + i) * z.O + o) * z.OH * z.OW;
    transform_outputs(TapView<const T>{M + o * b.J + i * z.T, tap_stride(z.O, b.J)}, z,
                      z.tiles_cover() ? plane : s.rows.data());
    if (!z.tiles_cover()) take(s.rows.data(), 2 * z.TW, z.OH, z.OW, plane);
  }
}

// A g Aᵀ [16, O, J] of the block's planes of grad [N, O, OH·OW].
template <class T>
void transform_output_gradients(const T* grad, const Sizes& z, const Block& b, Scratch<T>& s, T* Mg) {
  for (int64_t q = 0; q < b.n * z.O; ++q) {
    const int64_t i = q / z.O, o = q % z.O;
    const T* plane = grad + ((b.s0 + i) * z.O + o) * z.OH * z.OW;
    if (!z.tiles_cover()) place(plane, z.OH, z.OW, s.rows.data(), 2 * z.TW);
    transform_gradients(z.tiles_cover() ? plane : s.rows.data(), z,
                        TapView<T>{Mg + o * b.J + i * z.T, tap_stride(z.O, b.J)});
  }
}

// The block's samples' input gradients dx (through the planes' adjoint) from dV [16, C, J].
template <class T>
void fold_input_gradients(const T* dV, const ConvPlanes& planes, const Sizes& z, const Block& b, Scratch<T>& s, T* dx) {
  const T* interior = s.padded.data() + z.pad * z.WP + z.pad;
  for (int64_t q = 0; q < b.n * z.C; ++q) {
    const int64_t i = q / z.C, c = q % z.C;
    fold_patches(TapView<const T>{dV + c * b.J + i * z.T, tap_stride(z.C, b.J)}, z, s.padded.data(), s.h.data());
    if (planes.phase_pad >= 0)
      planes.write_phase(interior, z.WP, b.s0 + i, c, dx);
    else
      take(interior, z.WP, z.H, z.W, dx + ((b.s0 + i) * z.C + c) * z.H * z.W);
  }
}

// Calls f(Block) for blocks [b0, b1) of z.per_block() samples.
template <class F>
void for_blocks(const Sizes& z, int64_t b0, int64_t b1, F&& f) {
  const int64_t per_block = z.per_block();
  for (int64_t blk = b0; blk < b1; ++blk) {
    const int64_t s0 = blk * per_block;
    f(Block{s0, std::min(per_block, z.N - s0), per_block * z.T});
  }
}

}  // namespace

Tensor winograd_forward(const Tensor& x, const Tensor& w3, const ConvPlanes& planes) {
  const Sizes z(planes, w3.size(0));
  Tensor y = Tensor::empty({z.N, z.O, z.OH * z.OW}, x.dtype());
  dispatch_float(x.dtype(), "conv2d_winograd_forward", [&](auto tag) {
    using T = decltype(tag);
    std::vector<T> U(static_cast<size_t>(kTaps * z.O * z.C));  // [16, O, C]
    transform_weights(w3.data<T>(), z.O, z.C, U.data());
    parallel_for(z.blocks(), 1, [&](int64_t b0, int64_t b1) {
      Scratch<T> s(z, z.per_block() * z.T, z.C, z.O);  // a: V [16, C, J]; b: M [16, O, J]
      for_blocks(z, b0, b1, [&](const Block& b) {
        const int64_t tc = tap_stride(z.C, b.J), to = tap_stride(z.O, b.J);
        transform_inputs(x.data<T>(), planes, z, b, s, s.a);
        for (int64_t xi = 0; xi < kTaps; ++xi)  // M[ξ] [O, n·T] = U[ξ] [O, C] · V[ξ] [C, n·T]
          blas_gemm<T>(false, false, z.O, b.n * z.T, z.C, U.data() + xi * z.O * z.C, z.C, s.a + xi * tc, b.J,
                       s.b + xi * to, b.J);
        write_outputs(s.b, z, b, s, y.data<T>());
      });
    });
  });
  return y;
}

Conv2dGrads winograd_backward(const Tensor& x, const Tensor& w3, const Tensor& grad, const ConvPlanes& planes,
                              bool input, bool weight) {
  const Sizes z(planes, w3.size(0));
  Conv2dGrads out{input ? Tensor::empty(planes.x_shape, x.dtype()) : Tensor(),
                  weight ? Tensor::empty(w3.shape(), x.dtype()) : Tensor()};
  dispatch_float(x.dtype(), "conv2d_winograd_backward", [&](auto tag) {
    using T = decltype(tag);
    const int64_t taps_oc = kTaps * z.O * z.C, parts = std::clamp<int64_t>(z.blocks(), 1, num_threads());
    std::vector<T> U(input ? static_cast<size_t>(taps_oc) : 0);  // [16, O, C]
    if (input) transform_weights(w3.data<T>(), z.O, z.C, U.data());
    // Part p adds its blocks' dU [16, O, C] into partial p; the partials are added in order.
    std::vector<T> dU(weight ? static_cast<size_t>(parts * taps_oc) : 0);
    parallel_for(parts, 1, [&](int64_t p0, int64_t p1) {
      Scratch<T> s(z, z.per_block() * z.T, z.O, z.C);  // a: A g Aᵀ [16, O, J]; b: dV, then V [16, C, J]
      for (int64_t p = p0; p < p1; ++p)
        for_blocks(z, p * z.blocks() / parts, (p + 1) * z.blocks() / parts, [&](const Block& b) {
          const int64_t tc = tap_stride(z.C, b.J), to = tap_stride(z.O, b.J);
          transform_output_gradients(grad.data<T>(), z, b, s, s.a);
          if (input) {
            for (int64_t xi = 0; xi < kTaps; ++xi)  // dV[ξ] [C, n·T] = U[ξ]ᵀ [C, O] · (A g Aᵀ)[ξ] [O, n·T]
              blas_gemm<T>(true, false, z.C, b.n * z.T, z.O, U.data() + xi * z.O * z.C, z.C, s.a + xi * to, b.J,
                           s.b + xi * tc, b.J);
            fold_input_gradients(s.b, planes, z, b, s, out.input.data<T>());
          }
          if (!weight) return;
          transform_inputs(x.data<T>(), planes, z, b, s, s.b);
          for (int64_t xi = 0; xi < kTaps; ++xi)  // dU[ξ] [O, C] += (A g Aᵀ)[ξ] [O, n·T] · V[ξ]ᵀ [n·T, C]
            blas_gemm<T>(false, true, z.O, z.C, b.n * z.T, s.a + xi * to, b.J, s.b + xi * tc, b.J,
                         dU.data() + p * taps_oc + xi * z.O * z.C, z.C, true);
        });
    });
    if (!weight) return;
    for (int64_t p = 1; p < parts; ++p)
      for (int64_t i = 0; i < taps_oc; ++i) dU[i] += dU[p * taps_oc + i];
    weights_adjoint(dU.data(), z.O, z.C, out.weight.data<T>());
  });
  return out;
}

bool conv2d_winograd_applies(const Shape& x_shape, int64_t out_channels, DType dtype, const Conv2dGeometry& g) {
  return dtype == DType::Float32 && x_shape.size() == 4 && g.kh == 3 && g.kw == 3 && g.stride_h == 1 &&
         g.stride_w == 1 && g.pad_h == g.pad_w && x_shape[1] >= 8 && out_channels >= 8 &&
         x_shape[2] + 2 * g.pad_h >= 3 && x_shape[3] + 2 * g.pad_w >= 3;
}

Tensor conv2d_winograd_forward(const Tensor& x, const Tensor& w, const Conv2dGeometry& g) {
  return winograd_forward(x.contiguous(), w, ConvPlanes::direct(x.shape(), g.pad_h));
}

Conv2dGrads conv2d_winograd_backward(const Tensor& x, const Tensor& w, const Tensor& grad, const Conv2dGeometry& g,
                                     bool input, bool weight) {
  return winograd_backward(x.contiguous(), w, grad, ConvPlanes::direct(x.shape(), g.pad_h), input, weight);
}

}  // namespace pathgrad::kernel
