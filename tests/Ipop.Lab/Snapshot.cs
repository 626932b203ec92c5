using System.Runtime.CompilerServices;

namespace Ipop.Lab;

/// <summary>
/// Snapshot assertions with Verify's file conventions: the expected text lives next to the test in
/// <c>{TestClassFile}.{Method}[.{name}].verified.txt</c>; on mismatch the actual text is written to
/// <c>.received.txt</c> beside it and the test fails. Accept a change by renaming received to verified
/// (or run with <c>IPOP_ACCEPT_SNAPSHOTS=1</c>, never in CI).
/// </summary>
public static class Snapshot
{
    /// <summary>Compares <paramref name="actual"/> with the verified snapshot.</summary>
    public static void Verify(string actual, string? name = null, [CallerFilePath] string sourceFile = "", [CallerMemberName] string method = "")
    {
        if (!Path.IsPathRooted(sourceFile) || !Directory.Exists(Path.GetDirectoryName(sourceFile)))
        {
            // A path-mapped build (ContinuousIntegrationBuild, /_/...) hides where the snapshots live.
            throw new InvalidOperationException($"Snapshot cannot locate the test source '{sourceFile}'; build test projects without a source path map.");
        }

        string dir = Path.GetDirectoryName(sourceFile)!;
        string stem = Path.Combine(dir, $"{Path.GetFileNameWithoutExtension(sourceFile)}.{method}{(name is null ? string.Empty : "." + name)}");
        string verified = stem + ".verified.txt";
        string received = stem + ".received.txt";
        string normalized = actual.Replace("\r\n", "\n", StringComparison.Ordinal).TrimEnd('\n') + "\n";

        bool ci = string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);
        if (!ci && Environment.GetEnvironmentVariable("IPOP_ACCEPT_SNAPSHOTS") == "1")
        {
            File.WriteAllText(verified, normalized);
        }

        string? expected = File.Exists(verified) ? File.ReadAllText(verified).Replace("\r\n", "\n", StringComparison.Ordinal) : null;
        if (expected == normalized)
        {
            if (File.Exists(received))
            {
                File.Delete(received);
            }

            return;
        }

        File.WriteAllText(received, normalized);
        throw new SnapshotMismatchException(expected is null
            ? $"No verified snapshot {Path.GetFileName(verified)}; wrote {Path.GetFileName(received)}. Review it and rename it to .verified.txt.\n--- received ---\n{normalized}"
            : $"Snapshot {Path.GetFileName(verified)} differs; wrote {Path.GetFileName(received)}.\n--- verified ---\n{expected}\n--- received ---\n{normalized}");
    }
}

/// <summary>A snapshot did not match its verified file.</summary>
public sealed class SnapshotMismatchException : Exception
{
    /// <summary>Creates the exception.</summary>
    public SnapshotMismatchException(string message)
        : base(message)
    {
    }
}
