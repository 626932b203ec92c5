using System.Diagnostics;

namespace Ipop.Xmpp.Tests;

/// <summary>Runs the <c>ip</c> commands that build these tests' namespaces and veth pairs.</summary>
internal static class LabCommands
{
    /// <summary>Runs <paramref name="file"/> with the string arguments; a trailing <c>true</c> ignores a failure (for cleanup).</summary>
    public static void Run(string file, params object[] args)
    {
        bool ignoreErrors = args.Length > 0 && args[^1] is bool b && b;
        var info = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (object arg in args.Where(a => a is string))
        {
            info.ArgumentList.Add((string)arg);
        }

        using Process process = Process.Start(info)!;
        string error = process.StandardError.ReadToEnd();
        if (!process.WaitForExit(10_000))
        {
            process.Kill();
            throw new TimeoutException($"{file} {string.Join(' ', info.ArgumentList)} hung");
        }

        if (process.ExitCode != 0 && !ignoreErrors)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', info.ArgumentList)} failed: {error}");
        }
    }
}
