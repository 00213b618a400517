using System.Numerics.Tensors;
using QwenSharp.Kernels;
using QwenSharp.Tensors;

namespace QwenSharp.Model;

/// <summary>
/// The sparse MLP of a Qwen2-MoE layer, as transformers' Qwen2MoeSparseMoeBlock computes it:
/// router logits = x·W_gateᵀ, softmax over all experts in fp32, the top num_experts_per_tok of them (weights
/// renormalised to sum 1 only when norm_topk_prob), each chosen expert a SwiGLU MLP, plus the shared expert's SwiGLU
/// output scaled by sigmoid(shared_expert_gate · x).
/// <para><b>Grouped by expert.</b> A step's tokens are sorted by the experts they chose; each chosen expert's rows are
/// gathered and run through its gate/up/down as one matrix product over its tokens, and the results are added back
/// weighted. So each expert's weights are read once per step whatever the batch, and a decode step reads only the
/// experts its tokens chose (llama.cpp's mul_mat_id does the same grouping on the CPU).</para>
/// <para><b>Decode.</b> A step of one token runs the block as three worker-pool jobs (<see cref="MatMul.MultiplyGroup"/>):
/// the router with the shared expert's gate/up, then the chosen experts' gate/up, then every down projection; the
/// grouped path would hand off twice per chosen expert and twice for the shared one. Both give bitwise the same output
/// (the same kernels on the same rows, the same sums in the same order); <see cref="FusedDecode"/> = false keeps the
/// grouped path, the twin the tests compare against.</para>
/// <para><b>Ties.</b> Among experts of equal probability the ones llama.cpp's top-k keeps are kept (see <see cref="TopK"/>).</para>
/// </summary>
public sealed unsafe class MoeFeedForward
{
    private readonly int _hidden, _experts, _topK, _moe, _shared;
    private readonly bool _normalize;
    private int _capacity = -1;

    private float[] _router = [];     // [T, num_experts] router logits, then probabilities
    private int[] _chosen = [];       // [T, top_k] expert ids
    private float[] _weight = [];     // [T, top_k] routing weights
    private readonly int[] _start;    // [num_experts + 1] each expert's first gathered row
    private readonly int[] _fill;     // [num_experts] rows placed so far
    private readonly int[] _order;    // [num_experts] the experts sorted, for top-k
    private readonly GroupProduct[] _products; // [2 * top_k + 1] one job's products, for a one-token step
    private int[] _rowToken = [];     // [T * top_k] the token each gathered row came from, grouped by expert
    private float[] _rowWeight = [];  // [T * top_k] its routing weight
    private float[] _rows = [];       // [T * top_k, hidden] gathered inputs, then the experts' outputs
    private float[] _gate = [];       // [T * top_k, moe_intermediate]
    private float[] _up = [];         // [T * top_k, moe_intermediate]
    private float[] _sharedGate = []; // [T, shared_intermediate]
    private float[] _sharedUp = [];   // [T, shared_intermediate]

    public MoeFeedForward(Qwen2Config config)
    {
        _hidden = config.HiddenSize;
        _experts = config.NumExperts ?? 0;
        _topK = config.NumExpertsPerTok ?? 0;
        _moe = config.MoeIntermediateSize ?? 0;
        _shared = config.SharedExpertIntermediateSize ?? 0;
        _normalize = config.NormTopkProb ?? false;
        _start = new int[_experts + 1];
        _fill = new int[_experts];
        _order = new int[_experts];
        _products = new GroupProduct[Math.Max(3, 2 * _topK + 1)];
    }

    /// <summary>One token runs as three jobs (see the class remarks); false: as any other step, the grouped path.</summary>
    internal bool FusedDecode { get; set; } = true;

    /// <summary>dst [T, hidden] = the block's output for the normalised rows <paramref name="xn"/> [T, hidden].</summary>
    public void Apply(Qwen2MoeBlockWeights w, ReadOnlySpan<float> xn, Span<float> dst, int tokens)
    {
        Reserve(tokens);
        if (tokens == 1 && FusedDecode && 2 * _topK <= MatMul.MaxGroup)
        {
            ApplyOne(w, xn, dst);
            return;
        }
        int h = _hidden, k = _topK;
        var router = _router.AsSpan(0, tokens * _experts);
        MatMul.Multiply(w.gate, xn, router, tokens);                                      // router logits
        for (int t = 0; t < tokens; t++)
            Route(router.Slice(t * _experts, _experts), _chosen.AsSpan(t * k, k), _weight.AsSpan(t * k, k)); // softmax, top-k
        Group(tokens);                                                                    // rows sorted by expert

        int rowCount = tokens * k;
        var rows = _rows.AsSpan(0, rowCount * h);
        for (int r = 0; r < rowCount; r++) xn.Slice(_rowToken[r] * h, h).CopyTo(rows.Slice(r * h, h)); // gather
        for (int e = 0; e < _experts; e++)
        {
            int first = _start[e], n = _start[e + 1] - first;
            if (n == 0) continue;                                                         // not chosen: not read
            var gate = _gate.AsSpan(first * _moe, n * _moe);
            var up = _up.AsSpan(first * _moe, n * _moe);
            var x = rows.Slice(first * h, n * h);
            MatMul.MultiplySiblings(x, n, w.experts_gate_proj[e], gate, w.experts_up_proj[e], up); // gate, up
            SwiGlu.Apply(gate, up, gate);                                                 // silu(gate) · up
            MatMul.Multiply(w.experts_down_proj[e], gate, x, n);                          // down, over the gathered inputs
        }

        var sharedGate = _sharedGate.AsSpan(0, tokens * _shared);
        var sharedUp = _sharedUp.AsSpan(0, tokens * _shared);
        MatMul.MultiplySiblings(xn, tokens, w.shared_expert_gate_proj, sharedGate, w.shared_expert_up_proj, sharedUp);
        SwiGlu.Apply(sharedGate, sharedUp, sharedGate);
        MatMul.Multiply(w.shared_expert_down_proj, sharedGate, dst, tokens);             // shared expert
        Combine(w, xn, dst, tokens);
    }

    /// <summary>dst = sigmoid(shared gate · x) · dst (the shared expert's output) + Σ weight · expert(x), row by row.</summary>
    private void Combine(Qwen2MoeBlockWeights w, ReadOnlySpan<float> xn, Span<float> dst, int tokens)
    {
        int h = _hidden, rowCount = tokens * _topK;
        var rows = _rows.AsSpan(0, rowCount * h);
        for (int t = 0; t < tokens; t++)
        {
            var row = dst.Slice(t * h, h);
            float g = TensorPrimitives.Dot(w.shared_expert_gate, xn.Slice(t * h, h));
            TensorPrimitives.Multiply(row, 1f / (1f + MathF.Exp(-g)), row);              // × sigmoid(shared gate)
        }
        for (int r = 0; r < rowCount; r++)                                                // + Σ weight · expert(x)
            TensorPrimitives.MultiplyAdd(rows.Slice(r * h, h), _rowWeight[r], dst.Slice(_rowToken[r] * h, h), dst.Slice(_rowToken[r] * h, h));
    }

    /// <summary>
    /// One token in three jobs: router and shared gate/up (both read only x), the chosen experts' gate/up, then the
    /// experts' and the shared expert's down projections; the same steps on the same rows as <see cref="Apply"/>'s
    /// grouped path, which runs each of them as its own job.
    /// </summary>
    private void ApplyOne(Qwen2MoeBlockWeights w, ReadOnlySpan<float> xn, Span<float> dst)
    {
        int h = _hidden, k = _topK, m = _moe;
        var products = _products;
        fixed (float* px = xn)
        fixed (float* pd = dst)
        fixed (float* router = _router)
        fixed (float* rows = _rows)
        fixed (float* gate = _gate)
        fixed (float* up = _up)
        fixed (float* sharedGate = _sharedGate)
        fixed (float* sharedUp = _sharedUp)
        {
            var pool = WorkerPool.Shared;
            products[0] = new(w.gate, px, h, router, _experts);                            // router logits
            products[1] = new(w.shared_expert_gate_proj, px, h, sharedGate, _shared);      // shared gate, up
            products[2] = new(w.shared_expert_up_proj, px, h, sharedUp, _shared);
            MatMul.MultiplyGroup(products.AsSpan(0, 3), pool);
            Route(_router.AsSpan(0, _experts), _chosen.AsSpan(0, k), _weight.AsSpan(0, k)); // softmax, top-k
            Group(1);                                                                     // rows sorted by expert

            int n = 0;
            for (int e = 0; e < _experts; e++)
            {
                int r = _start[e];
                if (_start[e + 1] == r) continue;                                          // not chosen: not read
                products[n++] = new(w.experts_gate_proj[e], px, h, gate + r * m, m);       // gate, up
                products[n++] = new(w.experts_up_proj[e], px, h, up + r * m, m);
            }
            MatMul.MultiplyGroup(products.AsSpan(0, n), pool);
            for (int r = 0; r < k; r++)
                SwiGlu.Apply(_gate.AsSpan(r * m, m), _up.AsSpan(r * m, m), _gate.AsSpan(r * m, m)); // silu(gate) · up
            SwiGlu.Apply(_sharedGate.AsSpan(0, _shared), _sharedUp.AsSpan(0, _shared), _sharedGate.AsSpan(0, _shared));

            n = 0;
            for (int e = 0; e < _experts; e++)
            {
                int r = _start[e];
                if (_start[e + 1] == r) continue;
                products[n++] = new(w.experts_down_proj[e], gate + r * m, m, rows + r * h, h); // down
            }
            products[n++] = new(w.shared_expert_down_proj, sharedGate, _shared, pd, h);    // shared expert's down
            MatMul.MultiplyGroup(products.AsSpan(0, n), pool);
        }
        Combine(w, xn, dst, 1);
    }

    /// <summary>Softmax of one token's router logits, then its top-k experts and their weights.</summary>
    private void Route(Span<float> logits, Span<int> chosen, Span<float> weight)
    {
        Softmax.InPlace(logits);
        TopK.Select(logits, chosen, _order);
        for (int j = 0; j < chosen.Length; j++) weight[j] = logits[chosen[j]];
        if (_normalize)
        {
            float sum = TensorPrimitives.Sum(weight);
            TensorPrimitives.Divide(weight, sum, weight);
        }
    }

    /// <summary>Counting sort of the (token, expert) pairs by expert: _start, _rowToken and _rowWeight.</summary>
    private void Group(int tokens)
    {
        int pairs = tokens * _topK;
        Array.Clear(_start);
        for (int i = 0; i < pairs; i++) _start[_chosen[i] + 1]++;
        for (int e = 0; e < _experts; e++) _start[e + 1] += _start[e];
        Array.Clear(_fill);
        for (int i = 0; i < pairs; i++)
        {
            int e = _chosen[i], r = _start[e] + _fill[e]++;
            _rowToken[r] = i / _topK;
            _rowWeight[r] = _weight[i];
        }
    }

    /// <summary>Buffers for the largest step seen, grown (never shrunk) so a step allocates nothing.</summary>
    private void Reserve(int tokens)
    {
        if (tokens <= _capacity) return;
        int pairs = tokens * _topK;
        _router = new float[tokens * _experts];
        _chosen = new int[pairs];
        _weight = new float[pairs];
        _rowToken = new int[pairs];
        _rowWeight = new float[pairs];
        _rows = new float[(long)pairs * _hidden];
        _gate = new float[(long)pairs * _moe];
        _up = new float[(long)pairs * _moe];
        _sharedGate = new float[(long)tokens * _shared];
        _sharedUp = new float[(long)tokens * _shared];
        _capacity = tokens;
    }
}
