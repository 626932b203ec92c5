using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Jobs;
using Ipop.Tincan.Crypto;

namespace Ipop.Benchmarks;

/// <summary>The anti-replay window per packet, in order and slightly reordered.</summary>
[MemoryDiagnoser]
[ShortRunJob(RuntimeMoniker.Net10_0)]
public class ReplayWindowBenchmarks
{
    private readonly ReplayWindow _window = new();
    private ulong _counter;

    [Benchmark]
    public bool InOrder() => _window.TryAccept(_counter++);

    [Benchmark]
    public bool Reordered()
    {
        ulong c = _counter++;
        return _window.TryAccept(c ^ 1);
    }
}
