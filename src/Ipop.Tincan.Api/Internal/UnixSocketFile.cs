using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Ipop.Tincan.Api.Internal;

/// <summary>
/// The checks and file-system steps around the API's socket file: where it may live, what may already be
/// there, and the 0600 mode that keeps other local users out (connect(2) on a Unix socket needs write
/// permission on the file, unix(7)).
/// </summary>
internal static partial class UnixSocketFile
{
    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const uint StatxType = 0x1;
    private const uint StatxMode = 0x2;
    private const int Enoent = 2;
    private const ushort TypeMask = 0xF000;
    private const ushort TypeSocket = 0xC000;
    private const ushort TypeDirectory = 0x4000;
    private const ushort OtherWrite = 0x2;
    private const ushort Sticky = 0x200;

    /// <summary>What is at a path, read with statx(2) (a fixed layout on every architecture, unlike struct stat).</summary>
    internal readonly record struct Status(bool Exists, ushort Mode)
    {
        public bool IsSocket => (Mode & TypeMask) == TypeSocket;

        public bool IsDirectory => (Mode & TypeMask) == TypeDirectory;

        public UnixFileMode Permissions => (UnixFileMode)(Mode & 0xFFF);
    }

    /// <summary>
    /// Refuses a socket directory that other users may write to without the sticky bit: there anyone could
    /// replace our socket with theirs and read what controllers send.
    /// </summary>
    /// <exception cref="InvalidOperationException">The directory is missing or unsafe; the message names it.</exception>
    public static void CheckDirectory(string socketPath)
    {
        string directory = Path.GetDirectoryName(socketPath) ?? "/";
        Status dir = Stat(directory, followSymlinks: true);
        if (!dir.Exists || !dir.IsDirectory)
        {
            // Not created here: the server would have to guess its owner and mode, which decide who may reach the socket.
            throw new InvalidOperationException($"Controller API socket directory '{directory}' (ControllerApi:SocketPath) does not exist or is not a directory; create it first, owned by the user running Tincan, mode 0700 or 0755.");
        }

        if ((dir.Mode & OtherWrite) != 0 && (dir.Mode & Sticky) == 0)
        {
            throw new InvalidOperationException(
                $"Controller API socket directory '{directory}' (ControllerApi:SocketPath) is world-writable without the sticky bit (mode {Convert.ToString(dir.Mode & 0xFFF, 8)}); any local user could replace the socket. Use a private directory such as /run/ipop.");
        }
    }

    /// <summary>
    /// Clears the way for bind(2): removes a stale socket (nobody accepts on it), refuses a live one and
    /// anything that is not a socket (never delete a user's file because a config named it).
    /// </summary>
    /// <exception cref="InvalidOperationException">Something that must not be removed is at the path.</exception>
    public static void RemoveStale(string socketPath)
    {
        Status existing = Stat(socketPath, followSymlinks: false);
        if (!existing.Exists)
        {
            return;
        }

        if (!existing.IsSocket)
        {
            throw new InvalidOperationException($"Controller API socket path '{socketPath}' (ControllerApi:SocketPath) exists and is not a socket; refusing to replace it.");
        }

        using (var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            try
            {
                probe.Connect(new UnixDomainSocketEndPoint(socketPath));
                throw new InvalidOperationException($"Controller API socket '{socketPath}' (ControllerApi:SocketPath) is in use by another running server.");
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
            {
                // Nobody listens: the file is left over from a process that died without cleaning up.
            }
            catch (SocketException e)
            {
                throw new InvalidOperationException($"Controller API socket '{socketPath}' exists and cannot be probed ({e.SocketErrorCode}: {e.Message}); refusing to replace it.", e);
            }
        }

        File.Delete(socketPath);
    }

    /// <summary>
    /// Binds with a 0177 umask so the file never exists with looser permissions, then sets 0600 explicitly
    /// (the umask is process-wide, so it is restored at once; the chmod covers a racing umask change).
    /// </summary>
    public static void BindPrivate(Socket socket, string socketPath)
    {
        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException("The controller API needs Unix file modes (Linux).");
        }

        uint previous = Umask(0x7F);
        try
        {
            socket.Bind(new UnixDomainSocketEndPoint(socketPath));
        }
        finally
        {
            _ = Umask(previous);
        }

        File.SetUnixFileMode(socketPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    /// <summary>Removes our socket file on shutdown if it is still a socket.</summary>
    public static void RemoveIfSocket(string socketPath)
    {
        try
        {
            if (Stat(socketPath, followSymlinks: false).IsSocket)
            {
                File.Delete(socketPath);
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    public static unsafe Status Stat(string path, bool followSymlinks)
    {
        // struct statx is 256 bytes; stx_mode is a u16 at offset 28 (include/uapi/linux/stat.h).
        byte* buffer = stackalloc byte[256];
        int rc = StatX(AtFdCwd, path, followSymlinks ? 0 : AtSymlinkNoFollow, StatxType | StatxMode, buffer);
        if (rc != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno == Enoent)
            {
                return new Status(false, 0);
            }

            throw new IOException($"statx('{path}') failed with errno {errno}.");
        }

        return new Status(true, *(ushort*)(buffer + 28));
    }

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int StatX(int dirFd, string path, int flags, uint mask, byte* buffer);

    [LibraryImport("libc", EntryPoint = "umask")]
    private static partial uint Umask(uint mask);
}
