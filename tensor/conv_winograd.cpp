// Winograd F(2×2, 3×3) for 3×3 stride-1 convolutions (Lavin & Gray, 2016): a 2×2 output tile is
// Aᵀ[(G w Gᵀ) ⊙ (Bᵀ d B)]A over its 4×4 input patch d, so the convolution becomes 16 GEMMs of the
// transformed weights U [O, C] with the transformed patches V [C, tiles] (16 multiplications per
// 4 outputs where the direct sum takes 36). The backward passes are the same transforms' adjoints:
// the input gradient B[Uᵀ (A g Aᵀ)]Bᵀ folded back onto the overlapping patches, the weight
// gradient Gᵀ[Σ_tiles (A g Aᵀ) Vᵀ]G.
#include <algorithm>
#include <type_traits>
#include <vector>

#include "tensor/blas.hpp"
#include "tensor/kernels.hpp"
#include "tensor/parallel.hpp"

namespace pathgrad::kernel {
namespace {

constexpr int64_t kTaps = 16;  // ξ = 4·k + l: entry (k, l) of a tile's transformed 4×4 patch
// Columns (tiles) per block of samples, at least (whole samples: 1 at 16×16 outputs, 4 at 8×8):
// wide enough for the block's 16 GEMMs to amortise OpenBLAS's packing of U[ξ], narrow enough for
// its two tap-major buffers to stay in a core's L2. Of 32, 64, 128 and 256, 64 was fastest on the
// width-16 CNN's layers (bench_conv's totals; docs/benchmarks.md, change 4).
constexpr int64_t kMinBlockTiles = 64;

// A block's tap-major buffer [16, rows, J] keeps its taps one cache line further apart than
// rows·J: the transforms write (or read) all 16 taps of a tile at once, and taps a power of two
// apart would share the few ways of one cache set.
int64_t tap_stride(int64_t rows, int64_t J) { return rows * J + 16; }

// A convolution's sizes: x [N, C, H, W], w [O, C·9], padding `pad`; outputs OH×OW in TH×TW tiles
// of 2×2 (T per sample); a sample's planes padded to [HP, WP] = [2·TH + 2, 2·TW + 2] hold every
// tile's 4×4 patch, tile (ti, tj) at rows 2·ti.., columns 2·tj...
struct Sizes {
  int64_t N, C, H, W, O, pad, OH, OW, TH, TW, T, HP, WP;
  Sizes(const Shape& x, int64_t O, int64_t pad)
      : N(x[0]),
        C(x[1]),
        H(x[2]),
        W(x[3]),
        O(O),
        pad(pad),
        OH(H + 2 * pad - 2),
        OW(W + 2 * pad - 2),
        TH((OH + 1) / 2),
        TW((OW + 1) / 2),
        T(TH * TW),
        HP(2 * TH + 2),
        WP(2 * TW + 2) {}
  // Whether the tiles cover the output planes exactly (OH and OW even): then a plane [OH, OW] is
  // laid out like the tiles' rows [2·TH, 2·TW], and the transforms read and write it in place.
  bool tiles_cover() const { return OH == 2 * TH && OW == 2 * TW; }
  int64_t per_block() const { return std::clamp<int64_t>((kMinBlockTiles + T - 1) / T, 1, std::max<int64_t>(N, 1)); }
  int64_t blocks() const { return (N + per_block() - 1) / per_block(); }
};

// Tile rows of a plane are short (4 or 8 tiles in the CNNs of examples/): the transforms take
// the row length as a compile-time constant where it is a common one (TWc > 0), so that their
// loops unroll without run-time checks; TWc = 0 reads it from the sizes.
template <int TWc>
int64_t tile_width(const Sizes& z) {
  return TWc > 0 ? TWc : z.TW;
}

// Calls f(std::integral_constant<int, TWc>) with TWc = z.TW for common widths, else 0.
template <class F>
void with_tile_width(int64_t TW, F&& f) {
  switch (TW) {
    case 3:
      return f(std::integral_constant<int, 3>{});
    case 4:
      return f(std::integral_constant<int, 4>{});
    case 8:
      return f(std::integral_constant<int, 8>{});
    case 16:
      return f(std::integral_constant<int, 16>{});
    default:
      return f(std::integral_constant<int, 0>{});
  }
}

// A block's transformed operands, tap-major: entry (ξ, row, j) of a [16, rows, J] buffer at
// (ξ·rows + row)·J + j, where column j = sample-in-block·T + ti·TW + tj.
template <class T>
struct TapView {
  T* base;  // entry (0, row, first column of the sample)
  int64_t tap_stride;
  T& operator()(int64_t xi, int64_t j) const { return base[xi * tap_stride + j]; }
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

// One padded plane [HP, WP] -> its tiles' Bᵀ d B, with Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1]:
// first down the columns of a tile row's four plane rows (into t [4, WP]), then along each row.
template <int TWc, class T>
void transform_patches(const T* padded, const Sizes& z, TapView<T> v, T* t) {
  const int64_t TW = tile_width<TWc>(z), WP = 2 * TW + 2;
  for (int64_t ti = 0; ti < z.TH; ++ti) {
    const T* __restrict p0 = padded + 2 * ti * WP, * __restrict p1 = p0 + WP, * __restrict p2 = p1 + WP, * __restrict p3 = p2 + WP;
    T* __restrict t0 = t, * __restrict t1 = t + WP, * __restrict t2 = t1 + WP, * __restrict t3 = t2 + WP;
    for (int64_t s = 0; s < WP; ++s)
      t0[s] = p0[s] - p2[s], t1[s] = p1[s] + p2[s], t2[s] = p2[s] - p1[s], t3[s] = p1[s] - p3[s];
    for (int k = 0; k < 4; ++k) {
      const T* __restrict r = t + k * WP;
      T* __restrict v0 = &v(4 * k, ti * TW), * __restrict v1 = &v(4 * k + 1, ti * TW), * __restrict v2 = &v(4 * k + 2, ti * TW), * __restrict v3 = &v(4 * k + 3, ti * TW);
      for (int64_t tj = 0; tj < TW; ++tj) {
        const T a = r[2 * tj], b = r[2 * tj + 1], c = r[2 * tj + 2], d = r[2 * tj + 3];
        v0[tj] = a - c, v1[tj] = b + c, v2[tj] = c - b, v3[tj] = b - d;
      }
    }
  }
}

// The adjoint of transform_patches: B dV Bᵀ of every tile added onto its patch of `padded`
// [HP, WP] (neighbouring patches overlap by two rows or columns). e [4, WP]: a tile row's dV
// times Bᵀ along its rows, patches side by side.
template <int TWc, class T>
void fold_patches(TapView<const T> dv, const Sizes& z, T* padded, T* e) {
  const int64_t TW = tile_width<TWc>(z), WP = 2 * TW + 2;
  for (int64_t ti = 0; ti < z.TH; ++ti) {
    for (int k = 0; k < 4; ++k) {
      T* __restrict r = e + k * WP;
      const T* __restrict v0 = &dv(4 * k, ti * TW), * __restrict v1 = &dv(4 * k + 1, ti * TW), * __restrict v2 = &dv(4 * k + 2, ti * TW), * __restrict v3 = &dv(4 * k + 3, ti * TW);
      for (int64_t tj = 0; tj < TW; ++tj) r[2 * tj] = v0[tj], r[2 * tj + 1] = v1[tj] - v2[tj] + v3[tj];
      r[2 * TW] = r[2 * TW + 1] = T(0);
      for (int64_t tj = 0; tj < TW; ++tj) r[2 * tj + 2] += v1[tj] + v2[tj] - v0[tj], r[2 * tj + 3] -= v3[tj];
    }
    T* __restrict p0 = padded + 2 * ti * WP, * __restrict p1 = p0 + WP, * __restrict p2 = p1 + WP, * __restrict p3 = p2 + WP;
    const T* __restrict e0 = e, * __restrict e1 = e + WP, * __restrict e2 = e1 + WP, * __restrict e3 = e2 + WP;
    for (int64_t s = 0; s < WP; ++s)
      p0[s] += e0[s], p1[s] += e1[s] - e2[s] + e3[s], p2[s] += e1[s] + e2[s] - e0[s], p3[s] -= e3[s];
  }
}

// The tiles' Aᵀ M A, with Aᵀ = [1 1 1 0; 0 1 −1 −1], into rows [2·TH, 2·TW] (the outputs, and
// beyond OH or OW the partial tiles' outputs that no one reads). u [8, TW]: a tile row's Aᵀ M,
// row a of column l at u + (2·l + a)·TW.
template <int TWc, class T>
void transform_outputs(TapView<const T> m, const Sizes& z, T* rows, T* u) {
  const int64_t TW = tile_width<TWc>(z), RW = 2 * TW, n = TW;
  for (int64_t ti = 0; ti < z.TH; ++ti) {
    const int64_t j = ti * TW;
    for (int l = 0; l < 4; ++l) {
      const T* __restrict a = &m(l, j), * __restrict b = &m(4 + l, j), * __restrict c = &m(8 + l, j), * __restrict d = &m(12 + l, j);
      T* __restrict u0 = u + 2 * l * n, * __restrict u1 = u0 + n;
      for (int64_t tj = 0; tj < n; ++tj) u0[tj] = a[tj] + b[tj] + c[tj], u1[tj] = b[tj] - c[tj] - d[tj];
    }
    for (int r = 0; r < 2; ++r) {
      T* __restrict y = rows + (2 * ti + r) * RW;
      const T* __restrict c0 = u + r * n, * __restrict c1 = c0 + 2 * n, * __restrict c2 = c1 + 2 * n, * __restrict c3 = c2 + 2 * n;
      for (int64_t tj = 0; tj < n; ++tj) y[2 * tj] = c0[tj] + c1[tj] + c2[tj], y[2 * tj + 1] = c1[tj] - c2[tj] - c3[tj];
    }
  }
}

// The adjoint of transform_outputs: A g Aᵀ of every 2×2 tile of `rows` [2·TH, 2·TW] (zero beyond
// OH and OW). c [4, 2·TW]: a tile row's A g.
template <int TWc, class T>
void transform_gradients(const T* rows, const Sizes& z, TapView<T> m, T* c) {
  const int64_t TW = tile_width<TWc>(z), RW = 2 * TW;
  for (int64_t ti = 0; ti < z.TH; ++ti) {
    const T* __restrict g0 = rows + 2 * ti * RW, * __restrict g1 = g0 + RW;
    T* __restrict c0 = c, * __restrict c1 = c + RW, * __restrict c2 = c1 + RW, * __restrict c3 = c2 + RW;
    for (int64_t s = 0; s < RW; ++s) c0[s] = g0[s], c1[s] = g0[s] + g1[s], c2[s] = g0[s] - g1[s], c3[s] = -g1[s];
    for (int k = 0; k < 4; ++k) {
      const T* __restrict r = c + k * RW;
      T* __restrict v0 = &m(4 * k, ti * TW), * __restrict v1 = &m(4 * k + 1, ti * TW), * __restrict v2 = &m(4 * k + 2, ti * TW), * __restrict v3 = &m(4 * k + 3, ti * TW);
      for (int64_t tj = 0; tj < TW; ++tj) {
        const T y0 = r[2 * tj], y1 = r[2 * tj + 1];
        v0[tj] = y0, v1[tj] = y0 + y1, v2[tj] = y0 - y1, v3[tj] = -y1;
      }
    }
  }
}

// Copies plane [h, w] into `dst` [.., ld] at row r0, column c0 (the rest of dst left as it is).
template <class T>
void place(const T* plane, int64_t h, int64_t w, T* dst, int64_t ld, int64_t r0, int64_t c0) {
  for (int64_t r = 0; r < h; ++r) std::copy_n(plane + r * w, w, dst + (r0 + r) * ld + c0);
}

// Copies [h, w] out of `src` [.., ld] from row r0, column c0.
template <class T>
void take(const T* src, int64_t ld, int64_t r0, int64_t c0, int64_t h, int64_t w, T* plane) {
  for (int64_t r = 0; r < h; ++r) std::copy_n(src + (r0 + r) * ld + c0, w, plane + r * w);
}

// A thread's buffers: a block's two tap-major operands (from the storage cache: every entry a
// product reads is written first), and the planes the transforms read and write, zero-filled
// once (the padding around a plane's interior is never written).
template <class T>
struct Scratch {
  Tensor operands;
  T *a, *b;
  std::vector<T> padded, rows, lines;
  Scratch(const Sizes& z, int64_t J, int64_t rows_a, int64_t rows_b)
      : operands(Tensor::empty({kTaps * (tap_stride(rows_a, J) + tap_stride(rows_b, J))}, dtype_of<T>())),
        a(operands.data<T>()),
        b(a + kTaps * tap_stride(rows_a, J)),
        padded(static_cast<size_t>(z.HP * z.WP)),
        rows(static_cast<size_t>(4 * z.TH * z.TW)),
        lines(static_cast<size_t>(4 * z.WP)) {}
};

// A block of samples [s0, s0 + n): its columns j = (sample − s0)·T + tile, J of them at most.
struct Block {
  int64_t s0, n, J;
};

// V [16, C, J] of the block's samples of x [N, C, H, W].
template <class T>
void transform_inputs(const T* x, const Sizes& z, const Block& b, Scratch<T>& s, T* V) {
  with_tile_width(z.TW, [&](auto tw) {
    for (int64_t q = 0; q < b.n * z.C; ++q) {
      const int64_t i = q / z.C, c = q % z.C;
      place(x + ((b.s0 + i) * z.C + c) * z.H * z.W, z.H, z.W, s.padded.data(), z.WP, z.pad, z.pad);
      transform_patches<tw>(s.padded.data(), z, TapView<T>{V + c * b.J + i * z.T, tap_stride(z.C, b.J)},
                            s.lines.data());
    }
  });
}

// The block's output planes of y [N, O, OH·OW] from M [16, O, J].
template <class T>
void write_outputs(const T* M, const Sizes& z, const Block& b, Scratch<T>& s, T* y) {
  with_tile_width(z.TW, [&](auto tw) {
    for (int64_t q = 0; q < b.n * z.O; ++q) {
      const int64_t i = q / z.O, o = q % z.O;
      T* plane = y + ((b.s0 + i) * z.O + o) * z.OH * z.OW;
      transform_outputs<tw>(TapView<const T>{M + o * b.J + i * z.T, tap_stride(z.O, b.J)}, z,
                            z.tiles_cover() ? plane : s.rows.data(), s.lines.data());
      if (!z.tiles_cover()) take(s.rows.data(), 2 * z.TW, 0, 0, z.OH, z.OW, plane);
    }
  });
}

// A g Aᵀ [16, O, J] of the block's planes of grad [N, O, OH·OW].
template <class T>
void transform_output_gradients(const T* grad, const Sizes& z, const Block& b, Scratch<T>& s, T* Mg) {
  with_tile_width(z.TW, [&](auto tw) {
    for (int64_t q = 0; q < b.n * z.O; ++q) {
      const int64_t i = q / z.O, o = q % z.O;
      const T* plane = grad + ((b.s0 + i) * z.O + o) * z.OH * z.OW;
      if (!z.tiles_cover()) place(plane, z.OH, z.OW, s.rows.data(), 2 * z.TW, 0, 0);
      transform_gradients<tw>(z.tiles_cover() ? plane : s.rows.data(), z,
                              TapView<T>{Mg + o * b.J + i * z.T, tap_stride(z.O, b.J)}, s.lines.data());
    }
  });
}

// The block's planes of the input gradient dx [N, C, H, W] from dV [16, C, J]. Leaves the padded
// plane's border zero again, as transform_inputs needs it.
template <class T>
void fold_input_gradients(const T* dV, const Sizes& z, const Block& b, Scratch<T>& s, T* dx) {
  with_tile_width(z.TW, [&](auto tw) {
    for (int64_t q = 0; q < b.n * z.C; ++q) {
      const int64_t i = q / z.C, c = q % z.C;
      std::fill(s.padded.begin(), s.padded.end(), T(0));
      fold_patches<tw>(TapView<const T>{dV + c * b.J + i * z.T, tap_stride(z.C, b.J)}, z, s.padded.data(),
                       s.lines.data());
      take(s.padded.data(), z.WP, z.pad, z.pad, z.H, z.W, dx + ((b.s0 + i) * z.C + c) * z.H * z.W);
    }
  });
  std::fill(s.padded.begin(), s.padded.end(), T(0));
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

bool conv2d_winograd_applies(const Shape& x_shape, int64_t out_channels, DType dtype, const Conv2dGeometry& g) {
  return dtype == DType::Float32 && x_shape.size() == 4 && g.kh == 3 && g.kw == 3 && g.stride_h == 1 &&
         g.stride_w == 1 && g.pad_h == g.pad_w && x_shape[1] >= 8 && out_channels >= 8 &&
         x_shape[2] + 2 * g.pad_h >= 3 && x_shape[3] + 2 * g.pad_w >= 3;
}

Tensor conv2d_winograd_forward(const Tensor& x_in, const Tensor& w, const Conv2dGeometry& g) {
  const Tensor x = x_in.contiguous();
  const Sizes z(x.shape(), w.size(0), g.pad_h);
  Tensor y = Tensor::empty({z.N, z.O, z.OH * z.OW}, x.dtype());
  dispatch_float(x.dtype(), "conv2d_winograd_forward", [&](auto tag) {
    using T = decltype(tag);
    std::vector<T> U(static_cast<size_t>(kTaps * z.O * z.C));  // [16, O, C]
    transform_weights(w.data<T>(), z.O, z.C, U.data());
    parallel_for(z.blocks(), 1, [&](int64_t b0, int64_t b1) {
      Scratch<T> s(z, z.per_block() * z.T, z.C, z.O);  // a: V [16, C, J]; b: M [16, O, J]
      for_blocks(z, b0, b1, [&](const Block& b) {
        const int64_t tc = tap_stride(z.C, b.J), to = tap_stride(z.O, b.J);
        transform_inputs(x.data<T>(), z, b, s, s.a);
        for (int64_t xi = 0; xi < kTaps; ++xi)  // M[ξ] [O, n·T] = U[ξ] [O, C] · V[ξ] [C, n·T]
          blas_gemm<T>(false, false, z.O, b.n * z.T, z.C, U.data() + xi * z.O * z.C, z.C, s.a + xi * tc, b.J,
                       s.b + xi * to, b.J);
        write_outputs(s.b, z, b, s, y.data<T>());
      });
    });
  });
  return y;
}

Conv2dGrads conv2d_winograd_backward(const Tensor& x_in, const Tensor& w, const Tensor& grad, const Conv2dGeometry& g,
                                     bool input, bool weight) {
  const Tensor x = x_in.contiguous();
  const Sizes z(x.shape(), w.size(0), g.pad_h);
  Conv2dGrads out{input ? Tensor::empty(x.shape(), x.dtype()) : Tensor(),
                  weight ? Tensor::empty(w.shape(), x.dtype()) : Tensor()};
  dispatch_float(x.dtype(), "conv2d_winograd_backward", [&](auto tag) {
    using T = decltype(tag);
    const int64_t taps_oc = kTaps * z.O * z.C, parts = std::clamp<int64_t>(z.blocks(), 1, num_threads());
    std::vector<T> U(input ? static_cast<size_t>(taps_oc) : 0);  // [16, O, C]
    if (input) transform_weights(w.data<T>(), z.O, z.C, U.data());
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
            fold_input_gradients(s.b, z, b, s, out.input.data<T>());
          }
          if (!weight) return;
          transform_inputs(x.data<T>(), z, b, s, s.b);
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

}  // namespace pathgrad::kernel
