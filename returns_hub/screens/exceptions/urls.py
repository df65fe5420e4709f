app_name = "exceptions"
urlpatterns: list = []
