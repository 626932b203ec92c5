using Ipop.Tincan.DataPlane;

namespace Ipop.Tincan.Diagnostics;

/// <summary>
/// What the <c>peers</c>, <c>why</c> and <c>ping</c> commands ask of a link: a report of its path, traffic and
/// connectivity checks, and an echo through the tunnel. For links created by this package's <see cref="ITincan"/>.
/// </summary>
public static class LinkDiagnostics
{
    /// <summary>Reports the link's state, path, traffic, candidates on each side and the per-pair check outcomes.</summary>
    /// <param name="link">A link of this package's <see cref="ITincan"/>.</param>
    /// <param name="cancellationToken">Stops waiting (the report is read on the node's control loop, within 1 s).</param>
    /// <exception cref="ArgumentException">The link is not one of this package's.</exception>
    /// <exception cref="TimeoutException">The node's control loop did not get to it within 1 s.</exception>
    public static Task<LinkReport> DescribeAsync(ITincanLink link, CancellationToken cancellationToken) =>
        Of(link).DescribeAsync(cancellationToken);

    /// <summary>
    /// Sends one echo request inside the link (on the path in use) and waits for the reply. Works on TUN and TAP links
    /// and needs no addresses; a peer whose version predates echoes never answers.
    /// </summary>
    /// <param name="link">A link of this package's <see cref="ITincan"/>.</param>
    /// <param name="timeout">How long to wait for the reply.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <exception cref="ArgumentException">The link is not one of this package's.</exception>
    public static Task<EchoResult> EchoAsync(ITincanLink link, TimeSpan timeout, CancellationToken cancellationToken) =>
        Of(link).EchoAsync(timeout, cancellationToken);

    private static TincanLink Of(ITincanLink link) =>
        link as TincanLink ?? throw new ArgumentException("not a link of Ipop.Tincan", nameof(link));
}
