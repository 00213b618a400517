using System.Text.Json.Serialization;

namespace QwenSharp.Generation;

/// <summary>Source-generated JSON for what generation reports, with vLLM's and OpenAI's snake_case names.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = false)]
[JsonSerializable(typeof(SamplingParams))]
[JsonSerializable(typeof(ResolvedSamplingParams))]
[JsonSerializable(typeof(GenerationResult))]
[JsonSerializable(typeof(StepResult))]
public sealed partial class GenerationJsonContext : JsonSerializerContext;
