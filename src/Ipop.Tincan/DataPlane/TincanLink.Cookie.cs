using Ipop.Tincan.Crypto;
using Ipop.Tincan.Protocol;

namespace Ipop.Tincan.DataPlane;

/// <summary>
/// The initiator's half of WireGuard's cookies (whitepaper section 5.4.7): a peer under load answered an initiation
/// with a cookie reply instead of a response; the link keeps the cookie for two minutes and puts its mac2 on every
/// handshake message it sends meanwhile, so its next attempt passes the peer's load check. Control loop only.
/// </summary>
internal sealed partial class TincanLink
{
    // The responder's secret lives two minutes; a cookie a little younger than that is still worth sending.
    private static readonly TimeSpan CookieLifetime = Handshake.CookieGenerator.SecretLifetime - TimeSpan.FromSeconds(5);

    private readonly byte[] _cookie = new byte[CookieReplyMessage.CookieLength];
    private long _cookieReceivedAt;

    /// <summary>True while a cookie from the peer is fresh enough to send (tests).</summary>
    internal bool HasCookie => _cookieReceivedAt != 0 && _manager.Time.GetElapsedTime(_cookieReceivedAt) < CookieLifetime;

    /// <summary>Control loop: a cookie reply to our pending initiation.</summary>
    internal void OnCookieReply(PendingHandshake pending, byte[] reply)
    {
        if (_closed || !ReferenceEquals(pending, _pending) || pending.Message.Length < HandshakeInitiationMessage.Length)
        {
            _manager.Drops.Add(DropReason.UnknownIndex);
            return;
        }

        // Associated data: the mac1 of the initiation it answers, so a reply made for another message does not open.
        ReadOnlySpan<byte> answered = pending.Message.AsSpan(pending.Message.Length - HandshakeInitiationMessage.Length);
        Span<byte> cookie = stackalloc byte[CookieReplyMessage.CookieLength];
        if (!CookieReplyMessage.TryOpen(reply, HandshakeMac.DeriveCookieKey(_peerKeyBytes), HandshakeMac.Mac1(answered), cookie))
        {
            CountDrop(DropReason.AuthenticationFailed);
            return;
        }

        cookie.CopyTo(_cookie);
        _cookieReceivedAt = _manager.Time.GetTimestamp();
    }

    // Both MACs of a handshake message we send: mac1 always, mac2 while we hold a fresh cookie from the peer.
    private void WriteMacs(Span<byte> datagram)
    {
        HandshakeMac.Write(datagram, _peerMacKey);
        if (HasCookie)
        {
            HandshakeMac.WriteMac2(datagram, _cookie);
        }
        else
        {
            datagram[^HandshakeMac.Length..].Clear();
        }
    }
}
