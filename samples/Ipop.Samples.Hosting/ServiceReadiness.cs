namespace Ipop.Samples.Hosting;

/// <summary>
/// The moment a host is usable, which is later than the generic host's "started": a <c>BackgroundService</c> counts
/// as started at its first <c>await</c>, before it has created its device. A host that knows better (ipop-tincan, once
/// its interface is up) marks it here; <see cref="SdNotifyHostedService"/> then says <c>READY=1</c>. Shared by
/// <c>ipop-tincan</c> (linked source) and the sample hosts.
/// </summary>
internal sealed class ServiceReadiness
{
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes once, when the host is ready.</summary>
    public Task WhenReady => _ready.Task;

    /// <summary>Marks the host ready; later calls do nothing.</summary>
    public void MarkReady() => _ready.TrySetResult();
}
