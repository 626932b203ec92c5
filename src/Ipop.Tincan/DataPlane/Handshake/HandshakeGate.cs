using System.Net;
using Ipop.Tincan.Crypto;

namespace Ipop.Tincan.DataPlane.Handshake;

/// <summary>
/// The receive thread's cheap checks on a handshake initiation: its mac1; not under load, it is queued; under load it
/// must carry a valid mac2 (else it gets a cookie reply, itself rate-limited), and then its source address must be
/// within its token bucket. No Diffie-Hellman work, no allocation per message.
/// </summary>
/// <remarks>
/// Unlike wireguard-go, a message without mac2 under load meets the cookie-reply limit before its mac1 is checked:
/// it will get a cookie or nothing, and once its address has had its cookies for this second the answer is nothing
/// whatever its mac1, so the bulk of a flood costs a hash lookup instead of an HMAC on the thread that also receives
/// every transport packet. Junk sent from an address only spends that address's cookie replies, which anyone who
/// knows our public key could spend anyway.
/// </remarks>
internal sealed class HandshakeGate
{
    /// <summary>Handshake messages that may wait for the DH work at once.</summary>
    public const int QueueCapacity = 256;

    /// <summary>Initiations per second per address under load (wireguard-go's rate).</summary>
    public const int InitiationsPerSecond = 20;

    /// <summary>Burst of initiations per address under load (wireguard-go's burst).</summary>
    public const int InitiationBurst = 5;

    /// <summary>Cookie replies per second per address: a retransmitting peer needs one per attempt.</summary>
    public const int CookieRepliesPerSecond = 5;

    /// <summary>Cookie replies per second in all, so spoofed source addresses cannot make us a reflector.</summary>
    public const int CookieRepliesTotalPerSecond = 2000;

    private readonly SourceRateLimiter _initiations;
    private readonly SourceRateLimiter _cookieReplies;
    private readonly PerSecondBudget _cookieBudget;
    private readonly Lock _budgetLock = new();
    private readonly byte[] _mac1Key;

    public HandshakeGate(ReadOnlySpan<byte> ownPublicKey, TimeProvider time, Action<HandshakeQueue.Slot> handler, Action<HandshakeQueue>? schedule = null)
    {
        _mac1Key = HandshakeMac.DeriveKey(ownPublicKey);
        Queue = new HandshakeQueue(QueueCapacity, handler, schedule);
        Load = new HandshakeLoad(time, QueueCapacity / 8);
        Cookies = new CookieGenerator(ownPublicKey, time);
        Flooding = new FloodingSources(time);
        _initiations = new SourceRateLimiter(time, InitiationsPerSecond, InitiationBurst);
        _cookieReplies = new SourceRateLimiter(time, CookieRepliesPerSecond, CookieRepliesPerSecond);
        _cookieBudget = new PerSecondBudget(time, CookieRepliesTotalPerSecond);
    }

    public HandshakeQueue Queue { get; }

    public HandshakeLoad Load { get; }

    public CookieGenerator Cookies { get; }

    /// <summary>The addresses whose unproven initiations the socket's kernel filter drops.</summary>
    public FloodingSources Flooding { get; }

    /// <summary>Decides for a well-formed initiation from <paramref name="from"/>.</summary>
    public HandshakeAdmission Admit(ReadOnlySpan<byte> message, SocketAddress from)
    {
        bool underLoad = Load.IsUnderLoad(Queue.Waiting);
        if (underLoad && !HandshakeMac.HasMac2(message))
        {
            return AnswerWithCookie(message, from);
        }

        if (!HandshakeMac.Verify(message, _mac1Key))
        {
            return HandshakeAdmission.WrongMac1;
        }

        if (!underLoad)
        {
            return HandshakeAdmission.Queue;
        }

        if (!Cookies.CheckMac2(message, from))
        {
            return AnswerWithCookie(message, from);
        }

        return _initiations.Allow(from) ? HandshakeAdmission.Queue : HandshakeAdmission.RateLimited;
    }

    private HandshakeAdmission AnswerWithCookie(ReadOnlySpan<byte> message, SocketAddress from)
    {
        if (!_cookieReplies.Allow(from) || !TakeCookieBudget())
        {
            return HandshakeAdmission.CookieLimited;
        }

        return HandshakeMac.Verify(message, _mac1Key) ? HandshakeAdmission.SendCookie : HandshakeAdmission.WrongMac1;
    }

    private bool TakeCookieBudget()
    {
        lock (_budgetLock)
        {
            return _cookieBudget.TryTake();
        }
    }
}
