using QwenSharp.Kernels;
using QwenSharp.Model;
using QwenSharp.Tensors;

namespace QwenSharp.Tests.Oracles;

/// <summary>
/// The Qwen2 forward pass written out plainly in float64 from transformers' modeling_qwen2.py, one sequence,
/// no cache, no kernels but dequantization: an independent reference for the model and for llama.cpp.
/// </summary>
public static class NaiveQwen2
{
    public static double[][] Logits(IWeightSource w, Qwen2Config c, int[] tokens)
    {
        int T = tokens.Length, H = c.HiddenSize, nh = c.NumAttentionHeads, nkv = c.NumKeyValueHeads, hd = c.HeadDim;
        var embed = Matrix(w.Get("model.embed_tokens.weight"));
        var x = tokens.Select(t => (double[])embed[t].Clone()).ToArray();
        var rope = c.RopeScaling is { } s
            ? RopeFrequencies.Yarn(hd, c.RopeTheta, s.Factor, s.OriginalMaxPositionEmbeddings, s.BetaFast, s.BetaSlow)
            : RopeFrequencies.Plain(hd, c.RopeTheta);
        for (int l = 0; l < c.NumHiddenLayers; l++)
        {
            string p = $"model.layers.{l}.";
            var xn = x.Select(r => Norm(r, Vector(w.Get(p + "input_layernorm.weight")), c.RmsNormEps)).ToArray();
            var q = Linear(xn, Matrix(w.Get(p + "self_attn.q_proj.weight")), Vector(w.Get(p + "self_attn.q_proj.bias")));
            var k = Linear(xn, Matrix(w.Get(p + "self_attn.k_proj.weight")), Vector(w.Get(p + "self_attn.k_proj.bias")));
            var v = Linear(xn, Matrix(w.Get(p + "self_attn.v_proj.weight")), Vector(w.Get(p + "self_attn.v_proj.bias")));
            for (int t = 0; t < T; t++) { Rotate(q[t], nh, hd, t, rope); Rotate(k[t], nkv, hd, t, rope); }
            var attn = new double[T][];
            for (int t = 0; t < T; t++)
            {
                attn[t] = new double[nh * hd];
                for (int h = 0; h < nh; h++)
                {
                    int kvh = h / (nh / nkv);
                    var scores = new double[t + 1];
                    for (int j = 0; j <= t; j++)
                    {
                        double dot = 0;
                        for (int d = 0; d < hd; d++) dot += q[t][h * hd + d] * k[j][kvh * hd + d];
                        scores[j] = dot / Math.Sqrt(hd);
                    }
                    double max = scores.Max(), sum = scores.Sum(sc => Math.Exp(sc - max));
                    for (int j = 0; j <= t; j++)
                    {
                        double a = Math.Exp(scores[j] - max) / sum;
                        for (int d = 0; d < hd; d++) attn[t][h * hd + d] += a * v[j][kvh * hd + d];
                    }
                }
            }
            var o = Linear(attn, Matrix(w.Get(p + "self_attn.o_proj.weight")), null);
            for (int t = 0; t < T; t++) for (int i = 0; i < H; i++) x[t][i] += o[t][i];
            xn = x.Select(r => Norm(r, Vector(w.Get(p + "post_attention_layernorm.weight")), c.RmsNormEps)).ToArray();
            var down = c.IsSparseLayer(l) ? SparseMoeBlock(w, c, p + "mlp.", xn) : Mlp(w, p + "mlp.", xn);
            for (int t = 0; t < T; t++) for (int i = 0; i < H; i++) x[t][i] += down[t][i];
        }
        var final = x.Select(r => Norm(r, Vector(w.Get("model.norm.weight")), c.RmsNormEps)).ToArray();
        var head = Matrix(w.Get(w.Contains("lm_head.weight") ? "lm_head.weight" : "model.embed_tokens.weight"));
        return Linear(final, head, null);
    }

    /// <summary>SwiGLU MLP: down(silu(gate(x)) · up(x)), under <paramref name="prefix"/> (mlp., mlp.shared_expert., mlp.experts.E.).</summary>
    private static double[][] Mlp(IWeightSource w, string prefix, double[][] xn)
    {
        var gate = Linear(xn, Matrix(w.Get(prefix + "gate_proj.weight")), null);
        var up = Linear(xn, Matrix(w.Get(prefix + "up_proj.weight")), null);
        for (int t = 0; t < xn.Length; t++) for (int i = 0; i < gate[t].Length; i++) gate[t][i] = gate[t][i] / (1 + Math.Exp(-gate[t][i])) * up[t][i];
        return Linear(gate, Matrix(w.Get(prefix + "down_proj.weight")), null);
    }

    /// <summary>
    /// modeling_qwen2_moe.py's Qwen2MoeSparseMoeBlock: softmax of the router logits, top num_experts_per_tok (torch.topk:
    /// the larger probability first), renormalised when norm_topk_prob; every expert run on every token here and only
    /// the chosen ones kept, plus sigmoid(shared_expert_gate·x) × shared_expert(x).
    /// </summary>
    private static double[][] SparseMoeBlock(IWeightSource w, Qwen2Config c, string prefix, double[][] xn)
    {
        int E = c.NumExperts!.Value, k = c.NumExpertsPerTok!.Value;
        var router = Linear(xn, Matrix(w.Get(prefix + "gate.weight")), null);
        var outputs = Enumerable.Range(0, E).Select(e => Mlp(w, $"{prefix}experts.{e}.", xn)).ToArray();
        var shared = Mlp(w, prefix + "shared_expert.", xn);
        var sharedGate = Linear(xn, Matrix(w.Get(prefix + "shared_expert_gate.weight")), null);
        var result = new double[xn.Length][];
        for (int t = 0; t < xn.Length; t++)
        {
            double max = router[t].Max();
            var probs = router[t].Select(v => Math.Exp(v - max)).ToArray();
            double sum = probs.Sum();
            var top = Enumerable.Range(0, E).OrderByDescending(e => probs[e]).ThenBy(e => e).Take(k).ToArray();
            double norm = c.NormTopkProb == true ? top.Sum(e => probs[e] / sum) : 1;
            double g = 1 / (1 + Math.Exp(-sharedGate[t][0]));
            result[t] = shared[t].Select(v => v * g).ToArray();
            foreach (int e in top)
                for (int i = 0; i < result[t].Length; i++) result[t][i] += probs[e] / sum / norm * outputs[e][t][i];
        }
        return result;
    }

    private static void Rotate(double[] v, int heads, int hd, int pos, RopeFrequencies f)
    {
        int half = hd / 2;
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < half; i++)
            {
                double a = pos * f.InverseFrequencies[i], cos = Math.Cos(a) * f.AttentionFactor, sin = Math.Sin(a) * f.AttentionFactor;
                double x0 = v[h * hd + i], x1 = v[h * hd + i + half];
                v[h * hd + i] = x0 * cos - x1 * sin;
                v[h * hd + i + half] = x0 * sin + x1 * cos;
            }
    }

    private static double[] Norm(double[] x, double[] weight, double eps)
    {
        double ms = x.Sum(v => v * v) / x.Length, inv = 1 / Math.Sqrt(ms + eps);
        return x.Select((v, i) => v * inv * weight[i]).ToArray();
    }

    private static double[][] Linear(double[][] x, double[][] w, double[]? bias) =>
        x.Select(row => w.Select((wr, r) => { double s = bias?[r] ?? 0; for (int i = 0; i < row.Length; i++) s += row[i] * wr[i]; return s; }).ToArray()).ToArray();

    private static unsafe double[][] Matrix(TensorView t)
    {
        var rows = new double[t.Rows][];
        var buf = new float[t.Columns];
        for (long r = 0; r < t.Rows; r++)
        {
            Dequantize.Row(t.Type, t.Row(r), buf);
            rows[r] = buf.Select(f => (double)f).ToArray();
        }
        return rows;
    }

    private static double[] Vector(TensorView t) => Matrix(t)[0];
}
