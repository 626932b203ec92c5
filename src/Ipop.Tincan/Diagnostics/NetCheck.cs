namespace Ipop.Tincan.Diagnostics;

/// <summary>
/// <c>netcheck</c>: what this node's network does to peer-to-peer links, asked of the configured STUN and TURN
/// servers from a fresh UDP socket in the node's network namespace.
/// </summary>
public static class NetCheck
{
    /// <summary>Runs the checks (all servers at once) and returns what they found; never throws for an unanswered server.</summary>
    /// <param name="options">The node's options: its STUN and TURN servers are asked.</param>
    /// <param name="timeout">How long to wait for each server's answer.</param>
    /// <param name="cancellationToken">Stops the checks.</param>
    public static Task<NetCheckReport> RunAsync(TincanOptions options, TimeSpan timeout, CancellationToken cancellationToken)
        => throw new NotSupportedException("netcheck is being written (contract only)");
}
