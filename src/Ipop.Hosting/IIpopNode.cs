namespace Ipop;

/// <summary>
/// The node that <c>services.AddIpop()</c> runs, as a service: resolve it to wait until the node is up instead of
/// sleeping, and to reach its <see cref="ITincan"/>.
/// </summary>
public interface IIpopNode
{
    /// <summary>The node's link manager (resolved from the container).</summary>
    ITincan Tincan { get; }

    /// <summary>
    /// Completes when <see cref="ITincan.StartAsync"/> has completed and the controller's
    /// <see cref="IController.RunAsync"/> has started without failing. What the controller does from there (join a
    /// group, create its interface, link to peers) it reports itself, through <see cref="ITincan.Links"/> and
    /// <see cref="ITincan.LinkStatusChanged"/>; if it fails later, the host stops with exit code 3 as it would
    /// before.
    /// </summary>
    /// <param name="cancellationToken">Stops the wait (not the node).</param>
    /// <returns>A task that completes when ready; faults with the start failure if the node cannot start (the
    /// exception Tincan or the controller threw), or is cancelled if the host stopped before the node was ready.</returns>
    Task WaitUntilReadyAsync(CancellationToken cancellationToken);
}
