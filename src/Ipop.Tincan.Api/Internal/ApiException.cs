namespace Ipop.Tincan.Api.Internal;

/// <summary>A request failed in a way the client is told about: a stable code and a message naming the field at fault.</summary>
internal sealed class ApiException : Exception
{
    public ApiException()
    {
        Code = ApiErrorCodes.InternalError;
    }

    public ApiException(string message)
        : base(message)
    {
        Code = ApiErrorCodes.InternalError;
    }

    public ApiException(string message, Exception innerException)
        : base(message, innerException)
    {
        Code = ApiErrorCodes.InternalError;
    }

    public ApiException(string code, string message)
        : base(message)
    {
        Code = code;
    }

    public string Code { get; }
}

/// <summary>The stable error codes of protocol version 1 (docs/controller-api.md, "Errors").</summary>
internal static class ApiErrorCodes
{
    public const string MalformedJson = "malformed_json";
    public const string InvalidRequest = "invalid_request";
    public const string UnsupportedVersion = "unsupported_version";
    public const string UnknownOp = "unknown_op";
    public const string InvalidArgs = "invalid_args";
    public const string RequestTooLarge = "request_too_large";
    public const string NotOwner = "not_owner";
    public const string NotFound = "not_found";
    public const string Conflict = "conflict";
    public const string InvalidState = "invalid_state";
    public const string LinkNotConnected = "link_not_connected";
    public const string SendFailed = "send_failed";
    public const string Unsupported = "unsupported";
    public const string InterfaceError = "interface_error";
    public const string TooManyClients = "too_many_clients";
    public const string ShuttingDown = "shutting_down";
    public const string InternalError = "internal_error";

    public static readonly string[] All =
    [
        MalformedJson, InvalidRequest, UnsupportedVersion, UnknownOp, InvalidArgs, RequestTooLarge, NotOwner, NotFound, Conflict,
        InvalidState, LinkNotConnected, SendFailed, Unsupported, InterfaceError, TooManyClients, ShuttingDown, InternalError,
    ];
}
