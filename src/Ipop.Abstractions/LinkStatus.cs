namespace Ipop;

/// <summary>A link's state, path and (when not connected) the reason, with a human-readable detail.</summary>
/// <param name="State">Life-cycle state.</param>
/// <param name="Path">Path kind when connected, else <see cref="LinkPath.None"/>.</param>
/// <param name="Reason">Why the link failed or closed; <see cref="LinkFailureReason.None"/> otherwise.</param>
/// <param name="Detail">Diagnosis in words (e.g. "3 pairs checked, all timed out; TURN 198.18.0.3:3478 refused credentials").</param>
public sealed record LinkStatus(LinkState State, LinkPath Path, LinkFailureReason Reason, string? Detail = null)
{
    /// <summary>A link that is being set up.</summary>
    public static LinkStatus Connecting { get; } = new(LinkState.Connecting, LinkPath.None, LinkFailureReason.None);

    /// <inheritdoc />
    public override string ToString() => State switch
    {
        LinkState.Connected => $"Connected ({Path})",
        LinkState.Failed or LinkState.Closed => Detail is null ? $"{State} ({Reason})" : $"{State} ({Reason}: {Detail})",
        _ => State.ToString(),
    };
}
