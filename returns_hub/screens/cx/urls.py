app_name = "cx"
urlpatterns: list = []
