using QwenSharp.Tensors;

namespace QwenSharp.Formats;

/// <summary>
/// A tensor to be written by <see cref="SafetensorsWriter"/> or <see cref="GgufWriter"/>: its name, format,
/// shape (outermost first, as <see cref="TensorView.Shape"/>) and a callback that streams exactly
/// <see cref="ByteLength"/> bytes of already-encoded data, so a model never has to sit in memory whole.
/// </summary>
public sealed record TensorSpec(string Name, GgmlType Type, long[] Shape, Action<Stream> WriteData)
{
    /// <summary>Bytes the data takes: rows × the bytes of one row of the innermost dimension in this format.</summary>
    public long ByteLength
    {
        get
        {
            long rows = 1;
            for (int i = 0; i < Shape.Length - 1; i++)
            {
                if (Shape[i] < 0) throw new ArgumentException($"Tensor {Name} has a negative dimension in shape [{string.Join(", ", Shape)}].");
                rows = checked(rows * Shape[i]);
            }
            long columns = Shape.Length == 0 ? 1 : Shape[^1];
            if (columns < 0) throw new ArgumentException($"Tensor {Name} has a negative dimension in shape [{string.Join(", ", Shape)}].");
            return checked(rows * GgmlTypeInfo.RowBytes(Type, columns));
        }
    }

    /// <summary>Runs the callback into <paramref name="destination"/> and checks it wrote exactly <see cref="ByteLength"/> bytes.</summary>
    internal void WriteTo(Stream destination)
    {
        long expected = ByteLength;
        using var counted = new CountedWriteStream(destination, expected, Name);
        WriteData(counted);
        if (counted.Written != expected)
            throw new InvalidOperationException($"The data callback of tensor {Name} wrote {counted.Written} bytes; its shape and type need {expected}.");
    }
}
