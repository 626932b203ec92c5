using System.Buffers;
using System.Text;

namespace Ipop.Samples.Hosting.Cli;

/// <summary>
/// Reads newline-terminated lines from a stream with a bound on their length, so a peer that never sends a newline
/// (or sends a flood) costs at most <c>maxLength</c> bytes.
/// </summary>
internal sealed class LineReader(Stream stream, int maxLength)
{
    private readonly byte[] _buffer = new byte[maxLength + 1];
    private int _start;
    private int _end;

    /// <summary>The next line without its newline; null at the end of the stream (a last unterminated line is returned).</summary>
    /// <exception cref="InvalidDataException">A line is longer than the bound.</exception>
    public async ValueTask<string?> ReadLineAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            int newline = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
            if (newline >= 0)
            {
                string line = Encoding.UTF8.GetString(_buffer, _start, newline - _start).TrimEnd('\r');
                _start = newline + 1;
                return line;
            }

            if (_start > 0)
            {
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }

            if (_end == _buffer.Length)
            {
                throw new InvalidDataException($"a line longer than {maxLength} bytes");
            }

            int read = await stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken);
            if (read == 0)
            {
                if (_end == 0)
                {
                    return null;
                }

                string last = Encoding.UTF8.GetString(_buffer, 0, _end);
                _end = 0;
                return last;
            }

            _end += read;
        }
    }

    /// <summary>The first bytes of a line for an error message: printable, at most 40 characters.</summary>
    public static string Excerpt(string line)
    {
        string head = line.Length > 40 ? line[..40] + "..." : line;
        return string.Create(head.Length, head, static (span, h) =>
        {
            for (int i = 0; i < h.Length; i++)
            {
                span[i] = char.IsControl(h[i]) ? '?' : h[i];
            }
        });
    }
}
