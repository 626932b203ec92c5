using System.Net;
using Ipop.Tincan.Crypto;
using Ipop.Tincan.Protocol;

namespace Ipop.Tincan.DataPlane.Handshake;

/// <summary>
/// The responder's half of WireGuard's cookies (whitepaper section 5.4.7): a cookie is a MAC of the sender's address
/// (IP and port) under a random secret that changes every two minutes, so it costs nothing to store, proves that the
/// sender receives at the address it sends from, and expires with the secret. Checks mac2 against it and writes the
/// encrypted cookie replies. Thread-safe: the secret is an immutable object swapped atomically.
/// </summary>
internal sealed class CookieGenerator
{
    /// <summary>How long a secret (and every cookie made with it) lives.</summary>
    public static readonly TimeSpan SecretLifetime = TimeSpan.FromMinutes(2);

    private readonly TimeProvider _time;
    // Imported once: NSec keeps a key in libsodium's guarded memory (an allocation with page protection), too costly
    // for every reply on the receive thread under a flood. Derived from our public key, so nothing secret to free early.
    private readonly NSec.Cryptography.Key _replyKey;
    private Secret _secret;

    /// <param name="responderPublicKey">This node's static public key (the cookie replies' key derives from it).</param>
    /// <param name="time">The clock of the secret rotation.</param>
    public CookieGenerator(ReadOnlySpan<byte> responderPublicKey, TimeProvider time)
    {
        _time = time;
        _replyKey = CookieReplyMessage.ImportKey(HandshakeMac.DeriveCookieKey(responderPublicKey));
        _secret = new Secret(time.GetTimestamp());
    }

    /// <summary>Writes the cookie for <paramref name="source"/> under the current secret (16 bytes).</summary>
    public void ComputeCookie(SocketAddress source, Span<byte> cookie)
    {
        Span<byte> mac = stackalloc byte[32];
        HmacSha256.Compute(Current().Bytes, source.Buffer.Span[..source.Size], mac);
        mac[..CookieReplyMessage.CookieLength].CopyTo(cookie);
    }

    /// <summary>True when <paramref name="message"/> carries the mac2 of the cookie <paramref name="source"/> was given.</summary>
    public bool CheckMac2(ReadOnlySpan<byte> message, SocketAddress source)
    {
        if (!HandshakeMac.HasMac2(message))
        {
            return false;
        }

        Span<byte> cookie = stackalloc byte[CookieReplyMessage.CookieLength];
        ComputeCookie(source, cookie);
        return HandshakeMac.VerifyMac2(message, cookie);
    }

    /// <summary>Writes the cookie reply (<see cref="CookieReplyMessage.Length"/> bytes) to <paramref name="message"/> from <paramref name="source"/>.</summary>
    public void WriteReply(Span<byte> destination, uint senderIndex, ReadOnlySpan<byte> message, SocketAddress source)
    {
        Span<byte> cookie = stackalloc byte[CookieReplyMessage.CookieLength];
        ComputeCookie(source, cookie);
        CookieReplyMessage.Write(destination, senderIndex, cookie, _replyKey, HandshakeMac.Mac1(message));
    }

    private Secret Current()
    {
        Secret secret = Volatile.Read(ref _secret);
        long now = _time.GetTimestamp();
        if (_time.GetElapsedTime(secret.Created, now) < SecretLifetime)
        {
            return secret;
        }

        // Two threads may rotate at once; either new secret is as good, and the loser's cookies fail once more.
        var fresh = new Secret(now);
        Interlocked.CompareExchange(ref _secret, fresh, secret);
        return Volatile.Read(ref _secret);
    }

    private sealed class Secret(long created)
    {
        public long Created { get; } = created;

        public byte[] Bytes { get; } = NewSecret();

        private static byte[] NewSecret()
        {
            byte[] bytes = new byte[32];
            SecureRandom.Fill(bytes);
            return bytes;
        }
    }
}
