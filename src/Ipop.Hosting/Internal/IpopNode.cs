using Microsoft.Extensions.DependencyInjection;

namespace Ipop.Hosting.Internal;

/// <summary>The readiness of the node the hosted service runs; completed once, by the hosted service only.</summary>
internal sealed class IpopNode(IServiceProvider services) : IIpopNode
{
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Resolved on first use, so that a program that never reads it does not build Tincan earlier than the host does.
    public ITincan Tincan => services.GetRequiredService<ITincan>();

    public Task WaitUntilReadyAsync(CancellationToken cancellationToken) => _ready.Task.WaitAsync(cancellationToken);

    internal void MarkReady() => _ready.TrySetResult();

    internal void MarkFailed(Exception exception) => _ready.TrySetException(exception);

    internal void MarkStopped() => _ready.TrySetCanceled();
}
