using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Jobs;
using Ipop.Tincan.Crypto;
using Ipop.Tincan.DataPlane;
using Ipop.Tincan.Protocol;
using NSec.Cryptography;

namespace Ipop.Benchmarks;

/// <summary>
/// Per-packet cost of the Tincan transport: seal (header + ChaCha20-Poly1305 in place, as the NIC thread does) and
/// open (header parse + replay check + decrypt in place, as the receive thread does). Must allocate 0 B.
/// </summary>
[MemoryDiagnoser]
[ShortRunJob(RuntimeMoniker.Net10_0)]
public class TransportBenchmarks
{
    private Key _key = null!;
    private byte[] _buffer = null!;
    private byte[] _sealedPacket = null!;
    private byte[] _openBuffer = null!;
    private ReplayWindow _window = null!;
    private ulong _counter;

    [Params(64, 1400)]
    public int Size { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        byte[] raw = new byte[32];
        Random.Shared.NextBytes(raw);
        _key = TransportCipher.ImportKey(raw);
        _buffer = new byte[TincanLink.PayloadOffset + Size + TransportCipher.TagLength];
        Random.Shared.NextBytes(_buffer);

        _sealedPacket = new byte[TransportHeader.Length + Size + TransportCipher.TagLength];
        TransportHeader.Write(_sealedPacket, ContentKind.Packet, 42, 7);
        TransportCipher.Seal(_key, 7, _sealedPacket.AsSpan(0, TransportHeader.Length), new byte[Size], _sealedPacket.AsSpan(TransportHeader.Length));
        _openBuffer = new byte[_sealedPacket.Length];
        _window = new ReplayWindow();
    }

    [GlobalCleanup]
    public void Cleanup() => _key.Dispose();

    [Benchmark]
    public void Seal()
    {
        ulong counter = _counter++;
        Span<byte> header = _buffer.AsSpan(4, TransportHeader.Length);
        TransportHeader.Write(header, ContentKind.Packet, 42, counter);
        Span<byte> payload = _buffer.AsSpan(TincanLink.PayloadOffset, Size);
        TransportCipher.Seal(_key, counter, header, payload, _buffer.AsSpan(TincanLink.PayloadOffset, Size + TransportCipher.TagLength));
    }

    [Benchmark]
    public bool Open()
    {
        // Copy in, then open in place exactly like the receive loop (the copy stands in for recvfrom).
        _sealedPacket.CopyTo(_openBuffer, 0);
        Span<byte> datagram = _openBuffer;
        if (!TransportHeader.TryRead(datagram, out _, out _, out ulong counter) || !_window.Check(counter))
        {
            return false;
        }

        Span<byte> body = datagram[TransportHeader.Length..];
        return TransportCipher.Open(_key, counter, datagram[..TransportHeader.Length], body, body[..^TransportCipher.TagLength]);
    }
}
