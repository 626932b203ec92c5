using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Jobs;
using NSec.Cryptography;

namespace Ipop.Benchmarks;

/// <summary>
/// NSec (libsodium) against the BCL's ChaCha20-Poly1305 (OpenSSL on Linux) for one in-place seal, to know what a
/// switch of AEAD backend would buy on the data path.
/// </summary>
[MemoryDiagnoser]
[ShortRunJob(RuntimeMoniker.Net10_0)]
public class AeadComparisonBenchmarks
{
    private readonly byte[] _nonce = new byte[12];
    private readonly byte[] _ad = new byte[16];
    private Key _nsecKey = null!;
    private System.Security.Cryptography.ChaCha20Poly1305 _bcl = null!;
    private byte[] _buffer = null!;

    [Params(64, 1400)]
    public int Size { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        byte[] raw = new byte[32];
        Random.Shared.NextBytes(raw);
        _nsecKey = Key.Import(AeadAlgorithm.ChaCha20Poly1305, raw, KeyBlobFormat.RawSymmetricKey);
        _bcl = new System.Security.Cryptography.ChaCha20Poly1305(raw);
        _buffer = new byte[Size + 16];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _nsecKey.Dispose();
        _bcl.Dispose();
    }

    [Benchmark(Baseline = true)]
    public void NSec() => AeadAlgorithm.ChaCha20Poly1305.Encrypt(_nsecKey, _nonce, _ad, _buffer.AsSpan(0, Size), _buffer);

    [Benchmark]
    public void Bcl() => _bcl.Encrypt(_nonce, _buffer.AsSpan(0, Size), _buffer.AsSpan(0, Size), _buffer.AsSpan(Size, 16), _ad);
}
