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
        catch (NodeKeyFileException e)
        {
            Console.Error.WriteLine($"ipop-tincan: {e.Message}");
            return 2;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"ipop-tincan: cannot create the key file '{path.FullName}': {e.Message}");
            return 3;
        }
    }
}
