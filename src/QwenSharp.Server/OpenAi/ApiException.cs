using QwenSharp.Server.Backend;

namespace QwenSharp.Server.OpenAi;

/// <summary>A request the server refuses: becomes `{"error": {"message", "type", "param", "code"}}` with
/// <see cref="StatusCode"/> (OpenAI routes) or `{"error": "message"}` (Ollama routes).</summary>
public sealed class ApiException(int statusCode, string message, string? param = null) : Exception(message)
{
    public int StatusCode { get; } = statusCode;
    public string? Param { get; } = param;
    /// <summary>Sent as Retry-After with a 429 or 503.</summary>
    public int? RetryAfterSeconds { get; init; }

    public static ApiException BadRequest(string message, string? param = null) => new(400, message, param);

    public static ApiException From(RequestRejectedException e) => new(e.StatusCode, e.Message, e.Param);

    /// <summary>vLLM's error type names (create_error_response: BadRequestError, NotFoundError…).</summary>
    public static string TypeFor(int statusCode) => statusCode switch
    {
        400 => "BadRequestError",
        401 => "AuthenticationError",
        403 => "PermissionDeniedError",
        404 => "NotFoundError",
        413 => "RequestTooLargeError",
        415 => "UnsupportedMediaTypeError",
        422 => "UnprocessableEntityError",
        429 => "RateLimitError",
        503 => "ServiceUnavailableError",
        >= 400 and < 500 => "BadRequestError",
        _ => "InternalServerError",
    };

    public ErrorResponse ToResponse() => Make(StatusCode, Message, Param);

    public static ErrorResponse Make(int statusCode, string message, string? param) =>
        new() { Error = new ErrorInfo { Message = message, Type = TypeFor(statusCode), Param = param, Code = statusCode } };
}
