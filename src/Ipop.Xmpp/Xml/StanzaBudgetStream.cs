namespace Ipop.Xmpp.Xml;

/// <summary>
/// A read-only pass-through stream that counts the bytes handed to the XML parser since the last
/// <see cref="ResetBudget"/>: the parser resets it after each complete stanza, so one stanza that
/// grows beyond the budget fails fast instead of being buffered in full (a 10 MB stanza costs at most
/// the budget plus one read).
/// </summary>
internal sealed class StanzaBudgetStream : Stream
{
    private readonly Stream _inner;
    private readonly int _budget;
    private long _used;

    public StanzaBudgetStream(Stream inner, int budget)
    {
        _inner = inner;
        _budget = budget;
    }

    public void ResetBudget() => _used = 0;

    /// <summary>True once the transport returned end of stream (the peer closed the connection).</summary>
    public bool EndOfStream { get; private set; }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        Check();
        int n = _inner.Read(buffer[..Math.Min(buffer.Length, 16 * 1024)]);
        EndOfStream |= n == 0 && buffer.Length > 0;
        _used += n;
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Check();
        int n = await _inner.ReadAsync(buffer[..Math.Min(buffer.Length, 16 * 1024)], cancellationToken);
        EndOfStream |= n == 0 && buffer.Length > 0;
        _used += n;
        return n;
    }

    private void Check()
    {
        if (_used > _budget)
        {
            throw new XmppXmlException("policy-violation", $"Inbound stanza exceeds the limit of {_budget} bytes.");
        }
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
