using System.Net;

namespace Ipop.Tincan.DataPlane.Handshake;

/// <summary>
/// The receive thread's cheap checks on a handshake initiation after its mac1 (wireguard-go's order): not under load,
/// it is queued; under load it must carry a valid mac2 (else it gets a cookie reply, itself rate-limited), and then
/// its source address must be within its token bucket. No Diffie-Hellman work, no allocation per message.
/// </summary>
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

    public HandshakeGate(ReadOnlySpan<byte> ownPublicKey, TimeProvider time, Action<HandshakeQueue.Slot> handler, Action<HandshakeQueue>? schedule = null)
    {
        Queue = new HandshakeQueue(QueueCapacity, handler, schedule);
        Load = new HandshakeLoad(time, QueueCapacity / 8);
        Cookies = new CookieGenerator(ownPublicKey, time);
        _initiations = new SourceRateLimiter(time, InitiationsPerSecond, InitiationBurst);
        _cookieReplies = new SourceRateLimiter(time, CookieRepliesPerSecond, CookieRepliesPerSecond);
        _cookieBudget = new PerSecondBudget(time, CookieRepliesTotalPerSecond);
    }

    public HandshakeQueue Queue { get; }

    public HandshakeLoad Load { get; }

    public CookieGenerator Cookies { get; }

    /// <summary>Decides for an initiation from <paramref name="from"/> whose mac1 is valid.</summary>
    public HandshakeAdmission Admit(ReadOnlySpan<byte> message, SocketAddress from)
    {
        if (!Load.IsUnderLoad(Queue.Waiting))
        {
            return HandshakeAdmission.Queue;
        }

        if (!Cookies.CheckMac2(message, from))
        {
            return _cookieReplies.Allow(from) && TakeCookieBudget() ? HandshakeAdmission.SendCookie : HandshakeAdmission.CookieLimited;
        }

        return _initiations.Allow(from) ? HandshakeAdmission.Queue : HandshakeAdmission.RateLimited;
    }

    private bool TakeCookieBudget()
    {
        lock (_budgetLock)
        {
            return _cookieBudget.TryTake();
        }
    }
}
