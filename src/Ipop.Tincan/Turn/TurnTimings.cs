using Ipop.Tincan.Stun;

namespace Ipop.Tincan.Turn;

/// <summary>When to refresh what (RFC 8656 sections 7, 9 and 12). Defaults follow the RFC's lifetimes with a margin.</summary>
internal sealed record TurnTimings
{
    /// <summary>LIFETIME we ask for; the server may grant less or more (section 7.2). RFC default is 10 minutes.</summary>
    public TimeSpan RequestedLifetime { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Refresh this long before the allocation expires; lifetimes not longer than the margin are refreshed at half-life.</summary>
    public TimeSpan RefreshMargin { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Permissions last 5 minutes (section 9); refresh one minute early.</summary>
    public TimeSpan PermissionRefreshInterval { get; init; } = TimeSpan.FromMinutes(4);

    /// <summary>
    /// Channel bindings last 10 minutes, but the permission a ChannelBind installs lasts only 5 (section 12),
    /// so rebinding every 4 minutes keeps both alive with one request.
    /// </summary>
    public TimeSpan ChannelRefreshInterval { get; init; } = TimeSpan.FromMinutes(4);

    /// <summary>After a failed refresh, try again this much later (while the allocation has not expired).</summary>
    public TimeSpan RetryAfterFailure { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Retransmission schedule for TURN requests (null: the transaction table's default).</summary>
    public StunRetransmissionPolicy? Retransmission { get; init; }

    /// <summary>Schedule for the best-effort deallocation on dispose: short, so shutdown is not held up.</summary>
    public StunRetransmissionPolicy DeallocateRetransmission { get; init; } = new(TimeSpan.FromMilliseconds(200), 3, 2);

    public static TurnTimings Default { get; } = new();

    /// <summary>When to refresh an allocation granted for <paramref name="lifetime"/>.</summary>
    public TimeSpan RefreshDelay(TimeSpan lifetime) =>
        lifetime > RefreshMargin ? lifetime - RefreshMargin : lifetime / 2;
}
