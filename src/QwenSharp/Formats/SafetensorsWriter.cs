using System.Buffers.Binary;
using System.Text.Json;

namespace QwenSharp.Formats;

/// <summary>
/// Writes safetensors as Hugging Face's <c>save_pretrained</c> lays them out: one <c>model.safetensors</c>, or,
/// when the tensors exceed the shard size, <c>model-00001-of-0000N.safetensors</c> files plus
/// <c>model.safetensors.index.json</c>. Tensor data is streamed from each spec's callback straight to disk.
/// </summary>
public static class SafetensorsWriter
{
    /// <summary>
    /// Writes <paramref name="tensors"/> into <paramref name="folder"/>, sharded like transformers'
    /// <c>shard_checkpoint</c>: tensors are taken in order and a new shard starts when the next tensor would push
    /// the current one past <paramref name="maxShardBytes"/> (a tensor bigger than that gets a shard of its own).
    /// Returns the files written (the shards, then the index when there is one).
    /// </summary>
    public static IReadOnlyList<string> Write(string folder, IReadOnlyList<TensorSpec> tensors,
        long maxShardBytes = long.MaxValue, IReadOnlyDictionary<string, string>? metadata = null)
    {
        if (maxShardBytes <= 0) throw new ArgumentOutOfRangeException(nameof(maxShardBytes), "The shard size must be positive.");
        Directory.CreateDirectory(folder);

        var shards = new List<List<TensorSpec>>();
        var current = new List<TensorSpec>();
        long currentBytes = 0, totalBytes = 0;
        foreach (var t in tensors)
        {
            long size = t.ByteLength;
            if (current.Count > 0 && size > maxShardBytes - currentBytes)
            {
                shards.Add(current);
                current = [];
                currentBytes = 0;
            }
            current.Add(t);
            currentBytes += size;
            totalBytes += size;
        }
        shards.Add(current);

        RemoveStaleFiles(folder, shards.Count);
        if (shards.Count == 1)
        {
            string path = Path.Combine(folder, SafetensorsCheckpoint.SingleFileName);
            WriteFile(path, shards[0], metadata);
            return [path];
        }

        var written = new List<string>();
        var weightMap = new SortedDictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i < shards.Count; i++)
        {
            string name = $"model-{i + 1:D5}-of-{shards.Count:D5}.safetensors";
            string path = Path.Combine(folder, name);
            WriteFile(path, shards[i], metadata);
            written.Add(path);
            foreach (var t in shards[i]) weightMap[t.Name] = name;
        }

        string indexPath = Path.Combine(folder, SafetensorsCheckpoint.IndexFileName);
        using (var stream = File.Create(indexPath))
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteStartObject("metadata");
            json.WriteNumber("total_size", totalBytes);
            json.WriteEndObject();
            json.WriteStartObject("weight_map");
            foreach (var (tensor, file) in weightMap) json.WriteString(tensor, file);
            json.WriteEndObject();
            json.WriteEndObject();
        }
        written.Add(indexPath);
        return written;
    }

    /// <summary>
    /// Deletes weights an earlier save left in the folder that this one will not overwrite, as save_pretrained does:
    /// a leftover model.safetensors would otherwise shadow new shards (it is read first), and a leftover index would
    /// point at old shards.
    /// </summary>
    private static void RemoveStaleFiles(string folder, int shardCount)
    {
        if (shardCount > 1) File.Delete(Path.Combine(folder, SafetensorsCheckpoint.SingleFileName));
        else File.Delete(Path.Combine(folder, SafetensorsCheckpoint.IndexFileName));
        foreach (string path in Directory.EnumerateFiles(folder, "model-?????-of-?????.safetensors"))
            if (shardCount == 1 || !Path.GetFileName(path).EndsWith($"-of-{shardCount:D5}.safetensors", StringComparison.Ordinal))
                File.Delete(path);
    }

    /// <summary>Writes one .safetensors file holding <paramref name="tensors"/> in the given order.</summary>
    public static void WriteFile(string path, IReadOnlyList<TensorSpec> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var t in tensors)
            if (t.Name == "__metadata__" || !names.Add(t.Name))
                throw new ArgumentException($"Tensor name {t.Name} is used twice or reserved, so it cannot be written to {path}.");

        byte[] header = Header(tensors, metadata ?? new Dictionary<string, string> { ["format"] = "pt" });
        using (var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
        {
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
            stream.Write(length);
            stream.Write(header);
            foreach (var t in tensors) t.WriteTo(stream);
        }
        PageCache.Release(path); // the first load then maps it on huge pages
    }

    /// <summary>The JSON header, padded with spaces to a multiple of 8 bytes as the reference writer does, so data starts aligned.</summary>
    private static byte[] Header(IReadOnlyList<TensorSpec> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (metadata.Count > 0)
            {
                json.WriteStartObject("__metadata__");
                foreach (var (k, v) in metadata) json.WriteString(k, v);
                json.WriteEndObject();
            }
            long offset = 0;
            foreach (var t in tensors)
            {
                long size = t.ByteLength;
                json.WriteStartObject(t.Name);
                json.WriteString("dtype", SafetensorsDType.Name(t.Type));
                json.WriteStartArray("shape");
                foreach (long d in t.Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + size);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += size;
            }
            json.WriteEndObject();
        }
        int padding = (int)((8 - buffer.Length % 8) % 8);
        for (int i = 0; i < padding; i++) buffer.WriteByte((byte)' ');
        return buffer.ToArray();
    }
}
