using System.Globalization;
using System.Text;

namespace Ipop.Tincan.Crypto;

/// <summary>
/// The file that keeps the last accepted handshake timestamp of each peer key across restarts, so that an initiation
/// captured before a restart cannot be replayed after it. Text, one peer per line after a header:
/// <c>&lt;peer public key, base64&gt; &lt;TAI64N, 24 hex digits&gt;</c>. Written atomically (a temporary file in the same
/// directory, created 0600, flushed to disk, then renamed over the old one), so a crash leaves the old file or the new
/// one, never half of one.
/// </summary>
internal static class HandshakeStateFile
{
    /// <summary>The first line; another first line means another format (or another file) and is refused.</summary>
    public const string Header = "# ipop-tincan handshake state v1: <peer key (base64)> <last accepted initiation timestamp (TAI64N, hex)>";

    /// <summary>Bounds the file: more lines than any node has peers means it is not ours.</summary>
    public const int MaxEntries = HandshakeTimestamps.MaxPeers;

    /// <summary>Reads the file; an empty table when it does not exist.</summary>
    /// <exception cref="InvalidDataException">The file is not a state file this node wrote; the message names the file and line.</exception>
    public static Dictionary<NodePublicKey, byte[]> Load(string path)
    {
        var entries = new Dictionary<NodePublicKey, byte[]>();
        if (!File.Exists(path))
        {
            return entries;
        }

        string[] lines = File.ReadAllLines(path, Encoding.ASCII);
        if (lines.Length == 0 || lines[0] != Header)
        {
            throw Malformed(path, 1, "the first line is not the header this node writes");
        }

        for (int i = 1; i < lines.Length; i++)
        {
            string line = lines[i];
            if (line.Length == 0)
            {
                continue;
            }

            string[] fields = line.Split(' ');
            if (fields.Length != 2)
            {
                throw Malformed(path, i + 1, "expected a peer key and a timestamp separated by one space");
            }

            if (!NodePublicKey.TryParse(fields[0], out NodePublicKey key))
            {
                throw Malformed(path, i + 1, "the peer key is not base64 of 32 bytes");
            }

            byte[] timestamp;
            try
            {
                timestamp = fields[1].Length == 2 * Tai64N.Length ? Convert.FromHexString(fields[1]) : [];
            }
            catch (FormatException)
            {
                timestamp = [];
            }

            if (timestamp.Length != Tai64N.Length)
            {
                throw Malformed(path, i + 1, $"the timestamp is not {2 * Tai64N.Length} hex digits");
            }

            if (!entries.TryAdd(key, timestamp))
            {
                throw Malformed(path, i + 1, $"peer key {key} appears twice");
            }

            if (entries.Count > MaxEntries)
            {
                throw Malformed(path, i + 1, $"more than {MaxEntries.ToString(CultureInfo.InvariantCulture)} peers");
            }
        }

        return entries;
    }

    /// <summary>Replaces the file with <paramref name="entries"/>, atomically.</summary>
    public static void Save(string path, IEnumerable<KeyValuePair<NodePublicKey, byte[]>> entries)
    {
        var text = new StringBuilder(Header.Length + 1 + (MaxEntries * 70));
        text.Append(Header).Append('\n');
        foreach (KeyValuePair<NodePublicKey, byte[]> entry in entries)
        {
            text.Append(entry.Key.ToString()).Append(' ').Append(Convert.ToHexString(entry.Value)).Append('\n');
        }

        string directory = Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".";
        string temporary = Path.Combine(directory, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        try
        {
            using (var stream = new FileStream(temporary, options))
            {
                stream.Write(Encoding.ASCII.GetBytes(text.ToString()));

                // On disk before the rename: otherwise a power cut could leave the new name on an empty file.
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite: true);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }

    private static InvalidDataException Malformed(string path, int line, string what) => new(
        $"Handshake state file '{path}' (Tincan:StatePath) line {line.ToString(CultureInfo.InvariantCulture)}: {what}. " +
        "Only this node writes it; if it was damaged, delete it to start without the replay history (one old captured " +
        "handshake per peer could then be accepted once).");
}
