using Ipop.Tincan;

namespace Ipop.TincanHost;

internal static class KeyCommands
{
    public static int GenerateKey(FileInfo path)
    {
        try
        {
            Console.WriteLine(NodeKeyFile.EnsureCreated(path.FullName).ToString());
            return 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            Console.Error.WriteLine($"ipop-tincan: {e.Message}");
            return 1;
        }
    }
}
