namespace Ipop.Fuzz;

/// <summary>A per-process directory for the harnesses that read files or listen on a socket; on tmpfs when there is one.</summary>
internal static class ScratchDirectory
{
    private static readonly Lazy<string> Directory = new(Create);

    public static string Path => Directory.Value;

    /// <summary>Replaces <paramref name="path"/> with <paramref name="content"/>, mode 0600.</summary>
    public static void WritePrivate(string path, ReadOnlySpan<byte> content)
    {
        using var stream = new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.Create,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        });
        stream.Write(content);
    }

    private static string Create()
    {
        // scripts/fuzz.sh gives each run a directory and removes it afterwards: afl-fuzz ends the target with SIGKILL,
        // so the ProcessExit clean-up below never runs under it.
        if (Environment.GetEnvironmentVariable("IPOP_FUZZ_SCRATCH") is { Length: > 0 } given)
        {
            return given;
        }

        string root = System.IO.Directory.Exists("/dev/shm") ? "/dev/shm" : System.IO.Path.GetTempPath();
        string path = System.IO.Path.Combine(root, $"ipop-fuzz-{Environment.ProcessId}");
        System.IO.Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                System.IO.Directory.Delete(path, recursive: true);
            }
            catch (IOException)
            {
            }
        };
        return path;
    }
}
