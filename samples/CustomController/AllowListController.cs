using Ipop;
using Ipop.Controllers;
using Microsoft.Extensions.Logging;

/// <summary>
/// A complete controller: links to every online contact on an allow-list. <see cref="LinkNegotiator"/> does the
/// negotiation (no glare, retries with backoff and jitter, outages) and removes every link when the run is cancelled;
/// the policy says who. Tincan and signaling belong to the caller, who starts and disposes them.
/// </summary>
public sealed class AllowListController : IController
{
    private readonly AllowListPolicy _policy;
    private readonly LinkNegotiator _negotiator;

    public AllowListController(IOverlaySignaling signaling, ITincan tincan, IEnumerable<string> allowedUsers, ILogger? logger = null)
    {
        _policy = new AllowListPolicy(allowedUsers);
        _negotiator = new LinkNegotiator(signaling, tincan, _policy, logger: logger);
    }

    /// <summary>Completes once the controller listens and signaling is connected.</summary>
    public Task Ready => _negotiator.Ready;

    public Task RunAsync(CancellationToken cancellationToken) => _negotiator.RunAsync(cancellationToken);

    /// <summary>Completes when the controller has handled everything that happened so far.</summary>
    public Task WhenIdleAsync() => _negotiator.WhenIdleAsync();

    /// <summary>Takes <paramref name="user"/> off the list: its link goes at once.</summary>
    public void Disallow(string user)
    {
        _negotiator.Post(_ =>
        {
            _policy.Remove(user);
            return Task.CompletedTask;
        });
        _negotiator.RecheckTrust();
    }
}
