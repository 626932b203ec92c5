using System.Net;

namespace Ipop.Tincan.Stun;

/// <summary>A response matched to our request: a private copy of the bytes (control path), and who sent it.</summary>
internal sealed class StunResponse(byte[] message, IPEndPoint from)
{
    public byte[] Message { get; } = message;

    public IPEndPoint From { get; } = from;

    /// <summary>The parsed view; the bytes were validated when the response was matched.</summary>
    public StunMessage View
    {
        get
        {
            StunMessage.TryParse(Message, out StunMessage view);
            return view;
        }
    }

    public bool IsSuccess => View.Class == StunMessageClass.SuccessResponse;

    /// <summary>ERROR-CODE of an error response (0 if it is a success or lacks a valid ERROR-CODE).</summary>
    public int ErrorCode => View.TryGetErrorCode(out int code, out _) ? code : 0;

    public string ErrorReason =>
        View.TryGetErrorCode(out _, out ReadOnlySpan<byte> reason) && System.Text.Unicode.Utf8.IsValid(reason)
            ? System.Text.Encoding.UTF8.GetString(reason)
            : string.Empty;
}

/// <summary>Decides whether a response that matches a transaction is authentic (e.g. MESSAGE-INTEGRITY checks out).</summary>
internal delegate bool StunResponseValidator(StunMessage response);
