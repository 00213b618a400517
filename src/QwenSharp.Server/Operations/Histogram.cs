using System.Globalization;
using System.Text;

namespace QwenSharp.Server.Operations;

/// <summary>A Prometheus histogram (cumulative buckets, sum, count) safe for concurrent observers.</summary>
internal sealed class Histogram(string name, string help, double[] upperBounds)
{
    private readonly long[] _counts = new long[upperBounds.Length + 1];
    private double _sum;
    private long _count;
    private readonly Lock _lock = new();

    public void Observe(double value)
    {
        lock (_lock)
        {
            int i = 0;
            while (i < upperBounds.Length && value > upperBounds[i]) i++;
            _counts[i]++;
            _sum += value;
            _count++;
        }
    }

    public long Count { get { lock (_lock) return _count; } }

    public void Write(StringBuilder sb, string labels)
    {
        sb.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n');
        sb.Append("# TYPE ").Append(name).Append(" histogram\n");
        lock (_lock)
        {
            long cumulative = 0;
            for (int i = 0; i < upperBounds.Length; i++)
            {
                cumulative += _counts[i];
                sb.Append(name).Append("_bucket{").Append(labels).Append(",le=\"")
                  .Append(upperBounds[i].ToString(CultureInfo.InvariantCulture)).Append("\"} ").Append(cumulative).Append('\n');
            }
            cumulative += _counts[^1];
            sb.Append(name).Append("_bucket{").Append(labels).Append(",le=\"+Inf\"} ").Append(cumulative).Append('\n');
            sb.Append(name).Append("_sum{").Append(labels).Append("} ").Append(_sum.ToString("R", CultureInfo.InvariantCulture)).Append('\n');
            sb.Append(name).Append("_count{").Append(labels).Append("} ").Append(_count).Append('\n');
        }
    }
}
