using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Ipop.Tincan;

/// <summary>
/// The few POSIX calls a key file needs that .NET does not offer: open without following a symbolic link, the owner
/// and mode of an open descriptor (so the check and the read are on the same file), and fsync of a directory.
/// </summary>
internal static partial class UnixFile
{
    public const int ENOENT = 2;
    public const int EACCES = 13;
    public const int EEXIST = 17;
    public const int ELOOP = 40;

    private const int O_RDONLY = 0;
    private const int O_CLOEXEC = 0x80000;
    private const int AT_EMPTY_PATH = 0x1000;
    private const uint STATX_TYPE = 0x1;
    private const uint STATX_MODE = 0x2;
    private const uint STATX_UID = 0x8;

    /// <summary>File type bits of a mode, and the regular-file type.</summary>
    public const int S_IFMT = 0xF000;
    public const int S_IFREG = 0x8000;

    // These two flags differ between architectures (asm-generic vs x86 fcntl.h).
    private static bool X86 => RuntimeInformation.ProcessArchitecture is Architecture.X64 or Architecture.X86;

    private static int O_NOFOLLOW => X86 ? 0x20000 : 0x8000;

    private static int O_DIRECTORY => X86 ? 0x10000 : 0x4000;

    /// <summary>The effective user id: the owner a key file must have.</summary>
    public static uint EffectiveUserId => GetEuid();

    /// <summary>Opens <paramref name="path"/> for reading; fails with ELOOP when its last component is a symbolic link.</summary>
    /// <returns>The handle, or null with <paramref name="errno"/> set.</returns>
    public static SafeFileHandle? OpenNoFollow(string path, out int errno)
    {
        int fd = Open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0);
        errno = fd < 0 ? Marshal.GetLastPInvokeError() : 0;
        return fd < 0 ? null : new SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>Type, permission bits and owner of an open descriptor (statx with AT_EMPTY_PATH: no second path lookup).</summary>
    public static (int Mode, uint Owner) Describe(SafeFileHandle handle)
    {
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            if (Statx((int)handle.DangerousGetHandle(), string.Empty, AT_EMPTY_PATH, STATX_TYPE | STATX_MODE | STATX_UID, out StatxBuffer buffer) != 0)
            {
                throw new IOException($"statx failed (errno {Marshal.GetLastPInvokeError()})");
            }

            return (buffer.Mode, buffer.Uid);
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    /// <summary>Flushes a directory's entries, so a rename into it survives a crash.</summary>
    public static void SyncDirectory(string directory)
    {
        int fd = Open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
        if (fd < 0)
        {
            return;
        }

        using var handle = new SafeFileHandle(fd, ownsHandle: true);
        _ = Fsync(fd);
    }

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags, uint mode);

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Statx(int dirfd, string path, int flags, uint mask, out StatxBuffer buffer);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint GetEuid();

    /// <summary>struct statx (linux/stat.h): the same layout on every architecture; only the fields read here.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 256)]
    private struct StatxBuffer
    {
        [FieldOffset(20)]
        public uint Uid;

        [FieldOffset(28)]
        public ushort Mode;
    }
}
